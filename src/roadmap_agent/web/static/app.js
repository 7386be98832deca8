// roadmap-agent pages: the dark-mode toggle, a share link to copy, and live progress on a task page (SSE -> refresh the fragment).
(function () {
  "use strict";
  var root = document.documentElement;
  root.classList.add("js");  // forms that save on change hide their Save buttons (.no-js-only)

  function dark() {
    var chosen = root.getAttribute("data-theme");
    if (chosen) { return chosen === "dark"; }
    return window.matchMedia("(prefers-color-scheme: dark)").matches;
  }

  var toggle = document.getElementById("theme-toggle");
  if (toggle) {
    toggle.hidden = false;
    toggle.setAttribute("aria-pressed", String(dark()));
    toggle.addEventListener("click", function () {
      var next = dark() ? "light" : "dark";
      root.setAttribute("data-theme", next);
      document.cookie = "ra_theme=" + next + "; path=/; max-age=31536000; SameSite=Lax";
      toggle.setAttribute("aria-pressed", String(next === "dark"));
    });
  }

  // A saved state comes back as a new form (its "was" is the saved state): the concept's look follows it.
  document.body.addEventListener("htmx:afterSettle", function () {
    document.querySelectorAll(".progress-form").forEach(function (form) {
      var item = form.parentElement;
      var saved = form.querySelector("input[name=was]").value;
      item.className = item.className.replace(/\bstate-[a-z]+/g, "").trim() + " state-" + saved;
    });
  });

  // A new share link is selected when it appears, ready to copy.
  document.body.addEventListener("htmx:afterSwap", function () {
    var link = document.getElementById("share-url");
    if (link && document.activeElement && document.activeElement.closest && !document.activeElement.closest("form")) {
      link.focus();
      link.select();
    }
  });

  var live = document.getElementById("live");
  if (!live || live.getAttribute("data-terminal") || !window.EventSource) { return; }
  var last = Number(live.getAttribute("data-after") || "0");
  var terminal = ["completed", "failed", "cancelled"];
  var types = ["progress", "human_review_required", "task_recovering"].concat(terminal);
  // ?after= is where this page's rendering stopped; a reconnect sends Last-Event-ID, which the server prefers.
  var source = new EventSource(live.getAttribute("data-events") + "?after=" + last);
  var pending = null;

  function refresh() {
    if (pending) { return; }
    pending = window.setTimeout(function () {
      pending = null;
      window.htmx.ajax("GET", live.getAttribute("data-refresh"), { target: "#live", swap: "innerHTML" });
    }, 100);
  }

  // The fragment is replaced whole; only its latest step is said aloud (a persistent live region).
  live.addEventListener("htmx:afterSwap", function () {
    var status = document.getElementById("task-status");
    var steps = live.querySelectorAll("#steps .step-name");
    var latest = steps.length ? steps[steps.length - 1].textContent : "";
    document.getElementById("announce").textContent = (status ? status.textContent : "") + ": " + latest;
  });

  types.forEach(function (type) {
    source.addEventListener(type, function (event) {
      var seq = Number(event.lastEventId || "0");
      if (seq && seq <= last) { return; }  // already shown
      last = seq || last;
      live.setAttribute("data-after", String(last));
      if (terminal.indexOf(type) >= 0) {
        source.close();
        live.setAttribute("data-terminal", "1");
      }
      refresh();
    });
  });
})();
