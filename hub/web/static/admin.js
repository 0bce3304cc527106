// The admin UI's only script: ask before a button whose effect is hard to undo, and
// tick every row of a list at once. Pages work without it.
document.addEventListener("submit", function (event) {
  var button = event.submitter || event.target.querySelector("[data-confirm]");
  var message = button && button.getAttribute("data-confirm");
  if (message && !window.confirm(message)) {
    event.preventDefault();
  }
});

// A header box ticks (or clears) every row box of its form; shown only when this runs.
document.querySelectorAll("input[data-select-all]").forEach(function (all) {
  var rows = function () {
    return document.querySelectorAll(
      "input[type=checkbox][form='" + all.getAttribute("data-select-all") + "']"
    );
  };
  all.hidden = false;
  all.addEventListener("change", function () {
    rows().forEach(function (box) { box.checked = all.checked; });
  });
  document.addEventListener("change", function (event) {
    if (event.target === all || event.target.getAttribute("form") !== all.getAttribute("data-select-all")) {
      return;
    }
    var boxes = Array.prototype.slice.call(rows());
    all.checked = boxes.length > 0 && boxes.every(function (box) { return box.checked; });
  });
});
