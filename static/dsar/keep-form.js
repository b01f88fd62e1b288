// Switching the language reloads the page. What was typed in the page's forms is kept in this
// tab's sessionStorage for that one reload and put back, then forgotten (files cannot be kept:
// browsers do not let a page set a file input).
(function () {
  "use strict";
  var key = "dsar-form:" + window.location.pathname;
  function fields() {
    return document.querySelectorAll("main form input, main form textarea, main form select");
  }
  function kept(element) {
    return element.name && ["file", "hidden", "password", "submit"].indexOf(element.type) < 0;
  }
  var switcher = document.querySelector("form.language");
  if (switcher) {
    switcher.addEventListener("submit", function () {
      var saved = {};
      fields().forEach(function (element) {
        if (!kept(element)) return;
        if (element.type === "checkbox" || element.type === "radio") {
          if (element.checked) saved[element.name + "=" + element.value] = true;
        } else {
          saved[element.name] = element.value;
        }
      });
      try { window.sessionStorage.setItem(key, JSON.stringify(saved)); } catch (error) {}
    });
  }
  var raw = null;
  try {
    raw = window.sessionStorage.getItem(key);
    window.sessionStorage.removeItem(key);
  } catch (error) {}
  if (!raw) return;
  var saved = JSON.parse(raw);
  fields().forEach(function (element) {
    if (!kept(element)) return;
    if (element.type === "checkbox" || element.type === "radio") {
      element.checked = Boolean(saved[element.name + "=" + element.value]);
    } else if (Object.prototype.hasOwnProperty.call(saved, element.name)) {
      element.value = saved[element.name];
    }
  });
})();
