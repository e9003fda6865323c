// "Copy" buttons for a secret shown once: <button data-copy="ID"> copies the text of the
// element with that id. Without the clipboard API (a plain-HTTP origin other than
// localhost) the text is selected instead, for Ctrl-C.

async function copy(button) {
  const source = document.getElementById(button.dataset.copy);
  try {
    await navigator.clipboard.writeText(source.textContent.trim());
    button.textContent = "Copied";
  } catch {
    getSelection().selectAllChildren(source);
    button.textContent = "Selected: press Ctrl-C";
  }
}

for (const button of document.querySelectorAll("button[data-copy]")) {
  button.addEventListener("click", () => copy(button));
}
