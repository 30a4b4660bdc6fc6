/* Progressive enhancement only: every page works without this file.
   - copy-link buttons (hidden in the HTML) copy a passage's permanent URL;
   - copy buttons copy the text of the element named by data-copy-target;
   - the reading page's version pickers apply as soon as they change.
   No inline script or handler attributes anywhere (strict CSP). */
(function () {
  "use strict";
  document.documentElement.classList.add("js");

  function flash(button, text) {
    var original = button.getAttribute("data-label") || button.textContent;
    button.setAttribute("data-label", original);
    button.textContent = text;
    button.classList.add("copied");
    window.setTimeout(function () {
      button.textContent = original;
      button.classList.remove("copied");
    }, 1800);
  }

  function copy(text, button) {
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(
        function () { flash(button, "Copied"); },
        function () { fallbackCopy(text, button); }
      );
    } else {
      fallbackCopy(text, button);
    }
  }

  function fallbackCopy(text, button) {
    var area = document.createElement("textarea");
    area.value = text;
    area.setAttribute("readonly", "");
    area.className = "visually-hidden";
    document.body.appendChild(area);
    area.select();
    var ok = false;
    try { ok = document.execCommand("copy"); } catch (e) { ok = false; }
    document.body.removeChild(area);
    flash(button, ok ? "Copied" : "Press Ctrl+C");
  }

  function ready() {
    document.querySelectorAll("button.copy-link[data-permalink]").forEach(function (button) {
      button.hidden = false;
      button.addEventListener("click", function () {
        copy(button.getAttribute("data-permalink"), button);
      });
    });
    document.querySelectorAll("button.copy-button[data-copy-target]").forEach(function (button) {
      var target = document.getElementById(button.getAttribute("data-copy-target"));
      if (!target) { return; }
      button.hidden = false;
      button.addEventListener("click", function () {
        copy(target.textContent.trim(), button);
      });
    });
    document.querySelectorAll("form.reading-controls").forEach(function (form) {
      form.querySelectorAll("select, input[type=radio]").forEach(function (field) {
        field.addEventListener("change", function () {
          if (form.requestSubmit) { form.requestSubmit(); } else { form.submit(); }
        });
      });
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", ready);
  } else {
    ready();
  }
})();
