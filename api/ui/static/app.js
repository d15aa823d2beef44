// The workbench's only script: progressive enhancement, every page works without it.
// - a "select all" checkbox for bulk selection in the case queue;
// - the language menu submits itself when changed.
(function () {
  "use strict";
  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-select-all]").forEach(function (box) {
      var name = box.getAttribute("data-select-all");
      box.addEventListener("change", function () {
        document.querySelectorAll('input[type="checkbox"][name="' + name + '"]').forEach(function (item) {
          item.checked = box.checked;
        });
      });
    });
    document.querySelectorAll("select[data-autosubmit]").forEach(function (select) {
      select.addEventListener("change", function () {
        if (select.form) { select.form.submit(); }
      });
    });
  });
})();
