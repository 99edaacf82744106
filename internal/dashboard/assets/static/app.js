// Ramp dashboard: keeps the page live (Server-Sent Events), filters the
// list, and sends the actions with the page's CSRF token.
"use strict";
(function () {
  const csrf = document.querySelector('meta[name="csrf"]')?.content || "";
  const main = document.getElementById("main");
  const live = document.getElementById("live");
  const flash = document.getElementById("flash");

  function say(text, ok) {
    flash.hidden = false;
    flash.textContent = text;
    flash.className = ok ? "ok" : "err";
  }

  // Filter the list by the search box and the status select.
  function filter() {
    const q = (document.getElementById("search")?.value || "").toLowerCase();
    const st = document.getElementById("status-filter")?.value || "";
    document.querySelectorAll("table.rollouts tbody tr").forEach((tr) => {
      const hit = (!q || tr.dataset.search.toLowerCase().includes(q)) && (!st || tr.dataset.status === st);
      tr.hidden = !hit;
    });
  }
  document.getElementById("search")?.addEventListener("input", filter);
  document.getElementById("status-filter")?.addEventListener("change", filter);

  // Swap the live region, keeping what the user typed and where the focus was.
  function swap(html) {
    const kept = {};
    live.querySelectorAll("input[id], select[id]").forEach((el) => { if (el.type !== "hidden") kept[el.id] = el.value; });
    const focused = document.activeElement && live.contains(document.activeElement) ? document.activeElement.id : "";
    live.innerHTML = html;
    for (const id in kept) { const el = document.getElementById(id); if (el) el.value = kept[id]; }
    if (focused) document.getElementById(focused)?.focus();
    filter();
    document.body.dataset.updates = String(Number(document.body.dataset.updates || 0) + 1);
  }

  if (main?.dataset.stream && live && window.EventSource) {
    const es = new EventSource(main.dataset.stream);
    es.addEventListener("update", (e) => swap(e.data));
    es.addEventListener("open", () => { document.body.dataset.live = "open"; });
  }

  // Actions: posted with the CSRF token; the answer is the CLI's line.
  document.addEventListener("submit", async (e) => {
    const form = e.target;
    if (!form.classList.contains("action")) return;
    e.preventDefault();
    const button = form.querySelector("button");
    button.disabled = true;
    try {
      const res = await fetch(form.action, {
        method: "POST",
        body: new URLSearchParams(new FormData(form)),
        headers: { "X-CSRF-Token": csrf },
        credentials: "same-origin",
      });
      say(await res.text(), res.ok);
    } catch (err) {
      say("The dashboard could not be reached: " + err, false);
    } finally {
      button.disabled = false;
    }
  });
})();
