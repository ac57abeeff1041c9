// The poster's "Print" button; without script the print hint's keyboard shortcut still works.
for (const button of document.querySelectorAll("[data-print]")) {
  button.hidden = false;
  button.addEventListener("click", () => window.print());
}
