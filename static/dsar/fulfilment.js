// The case file's search panel, and the panel of changes, follow the work without a reload:
// while a search or a change is still running, it asks the progress URL every few seconds and
// updates each system's row.
(function () {
  "use strict";
  var panel = document.querySelector("[data-progress-url]");
  if (!panel) return;
  var url = panel.getAttribute("data-progress-url");
  function update(data) {
    (data.changes || []).forEach(function (e) {
      var cell = panel.querySelector('[data-change="' + e.id + '"]');
      var status = cell && cell.querySelector('[data-field="status"]');
      if (!status) return;
      status.textContent = e.status_label;
      status.className = "dsar-status dsar-status-" + e.status;
      var remote = cell.querySelector('[data-field="remote"]');
      if (remote) remote.textContent = e.remote || "";
    });
    data.searches.forEach(function (c) {
      var row = panel.querySelector('[data-search="' + c.id + '"]');
      if (!row) return;
      var status = row.querySelector('[data-field="status"]');
      if (status) {
        status.textContent = c.status_label;
        status.className = "dsar-status dsar-status-" + c.status;
      }
      var remote = row.querySelector('[data-field="remote"]');
      if (remote) remote.textContent = c.remote || "";
      var next = row.querySelector('[data-field="next"]');
      if (next) next.textContent = c.next && c.status !== "done" ? c.next : "";
      var found = row.querySelector('[data-field="found"]');
      if (found && c.status === "done" && !found.textContent.trim()) {
        found.textContent = Object.keys(c.counts).map(function (t) { return t + ": " + c.counts[t]; }).join(", ");
      }
      var notes = row.querySelector('[data-field="notes"]');
      if (notes && c.error && notes.textContent.indexOf(c.error) < 0) notes.textContent = c.error;
      row.querySelectorAll("[data-when]").forEach(function (action) {
        action.hidden = action.getAttribute("data-when").split(" ").indexOf(c.status) < 0;
      });
    });
  }
  function poll() {
    fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (data) {
        if (!data) return;
        update(data);
        if (!data.settled || data.package === "building") window.setTimeout(poll, 3000);
      })
      .catch(function () { window.setTimeout(poll, 10000); });
  }
  window.setTimeout(poll, 1500);
})();
