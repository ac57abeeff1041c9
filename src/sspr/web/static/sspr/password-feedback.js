// Live password feedback: as the user types, ask our own server which rules the password meets
// and mark each rule in the list next to the field. The password goes nowhere else.
(function () {
  "use strict";

  function csrfToken(form) {
    var input = form && form.querySelector("input[name=csrfmiddlewaretoken]");
    return input ? input.value : "";
  }

  function attach(input) {
    var list = document.getElementById(input.getAttribute("data-password-rules") || "password-rules");
    var url = input.getAttribute("data-password-feedback");
    var status = document.getElementById("password-feedback-status");
    if (!list || !url) { return; }
    var timer = null;
    var sequence = 0;

    function render(results) {
      list.innerHTML = "";
      var met = 0;
      results.forEach(function (rule) {
        var item = document.createElement("li");
        item.setAttribute("data-rule", rule.code);
        item.className = rule.met ? "met" : "unmet";
        item.textContent = (rule.met ? "✓ " : "✗ ") + rule.description;
        list.appendChild(item);
        if (rule.met) { met += 1; }
      });
      if (status) {
        // The page gives the sentences in its own language; English when it does not.
        status.textContent = met === results.length
          ? (status.getAttribute("data-all-met") || "This password meets every rule.")
          : (status.getAttribute("data-some-unmet") || "{unmet} of {total} rules not met yet.")
            .replace("{unmet}", String(results.length - met))
            .replace("{total}", String(results.length));
      }
    }

    function check() {
      var mine = ++sequence;
      var body = JSON.stringify({ password: input.value, username: input.getAttribute("data-username") || "" });
      fetch(url, {
        method: "POST",
        credentials: "same-origin",
        headers: { "Content-Type": "application/json", "X-CSRFToken": csrfToken(input.form) },
        body: body
      }).then(function (response) {
        return response.ok ? response.json() : null;
      }).then(function (answer) {
        if (answer && mine === sequence) { render(answer.rules); }
      }).catch(function () { /* feedback is a comfort; the server checks on submit anyway */ });
    }

    input.addEventListener("input", function () {
      if (timer) { clearTimeout(timer); }
      if (!input.value) { return; }
      timer = setTimeout(check, 250);
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    Array.prototype.forEach.call(document.querySelectorAll("input[data-password-feedback]"), attach);
  });
})();
