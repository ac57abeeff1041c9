/*
 * ALTCHA proof of work, solved in the browser with no third party.
 *
 * Markup (no inline script: the page's CSP is script-src 'self'):
 *   <form method="post">
 *     ...
 *     <div data-captcha data-captcha-url="/api/v1/captcha"></div>
 *     <button type="submit">Next</button>
 *   </form>
 *   <script src="{% static 'sspr/captcha.js' %}" defer></script>
 *
 * For each [data-captcha] inside a form: fetch a challenge, find n in 0..maxnumber with
 * hex(SHA-256(salt + n)) == challenge, and put base64(JSON {algorithm, challenge, number, salt,
 * signature}) into a hidden input named "captcha". The submit buttons stay disabled until then.
 * Without JavaScript the form still posts, and the server answers that the check is missing.
 * The widget's data-text-* attributes give the status sentences in the page's language.
 */
(function () {
  "use strict";

  var BATCH = 500; // digests in flight at once: far faster than awaiting them one by one
  var encoder = new TextEncoder();

  function hex(buffer) {
    var bytes = new Uint8Array(buffer);
    var out = "";
    for (var i = 0; i < bytes.length; i++) {
      out += (bytes[i] < 16 ? "0" : "") + bytes[i].toString(16);
    }
    return out;
  }

  async function solve(challenge) {
    var max = Number(challenge.maxnumber != null ? challenge.maxnumber : challenge.maxNumber);
    for (var start = 0; start <= max; start += BATCH) {
      var end = Math.min(start + BATCH - 1, max);
      var digests = [];
      for (var n = start; n <= end; n++) {
        digests.push(crypto.subtle.digest("SHA-256", encoder.encode(challenge.salt + n)));
      }
      var hashes = await Promise.all(digests);
      for (var k = 0; k < hashes.length; k++) {
        if (hex(hashes[k]) === challenge.challenge) {
          return start + k;
        }
      }
    }
    return null;
  }

  function problem(message) {
    var error = new Error(message);
    error.forPeople = true; // other errors (network, JSON) get the general wording
    return error;
  }

  function expiresAt(salt) {
    var match = /[?&]expires=(\d+)/.exec(salt);
    return match ? Number(match[1]) * 1000 : null;
  }

  function submitButtons(form) {
    return Array.prototype.filter.call(form.elements, function (el) {
      return (el.tagName === "BUTTON" && (el.type || "submit") === "submit") ||
        (el.tagName === "INPUT" && (el.type === "submit" || el.type === "image"));
    });
  }

  function hiddenInput(form) {
    var input = form.querySelector('input[name="captcha"]');
    if (!input) {
      input = document.createElement("input");
      input.type = "hidden";
      input.name = "captcha";
      form.appendChild(input);
    }
    return input;
  }

  function statusRegion(widget) {
    var region = widget.querySelector("[data-captcha-status]");
    if (!region) {
      region = document.createElement("span");
      region.setAttribute("data-captcha-status", "");
      region.className = "captcha-status";
      widget.appendChild(region);
    }
    region.setAttribute("role", "status");
    region.setAttribute("aria-live", "polite");
    return region;
  }

  function hold(buttons) {
    buttons.forEach(function (button) {
      if (!button.disabled) {
        button.disabled = true;
        button.setAttribute("data-captcha-held", "");
      }
    });
  }

  function release(buttons) {
    buttons.forEach(function (button) {
      if (button.hasAttribute("data-captcha-held")) {
        button.removeAttribute("data-captcha-held");
        button.disabled = false;
      }
    });
  }

  var TEXTS = {
    checking: "Checking you are not a robot\u2026",
    done: "Done",
    insecure: "This check needs a secure (HTTPS) connection.",
    "load-failed": "The check could not be loaded. Reload the page to try again.",
    unsolved: "The check could not be completed. Reload the page to try again.",
  };

  function text(widget, name) {
    return widget.getAttribute("data-text-" + name) || TEXTS[name];
  }

  async function run(widget, form) {
    var url = widget.getAttribute("data-captcha-url") || "/api/v1/captcha";
    var buttons = submitButtons(form);
    var input = hiddenInput(form);
    var status = statusRegion(widget);
    input.value = "";
    widget.setAttribute("aria-busy", "true");
    status.textContent = text(widget, "checking");
    hold(buttons);
    try {
      if (!window.crypto || !crypto.subtle) {
        throw problem(text(widget, "insecure"));
      }
      var response = await fetch(url, {
        headers: { Accept: "application/json" },
        credentials: "same-origin",
        cache: "no-store",
      });
      if (!response.ok) {
        throw problem(text(widget, "load-failed"));
      }
      var challenge = await response.json();
      var number = await solve(challenge);
      if (number === null) {
        throw problem(text(widget, "unsolved"));
      }
      input.value = btoa(JSON.stringify({
        algorithm: challenge.algorithm,
        challenge: challenge.challenge,
        number: number,
        salt: challenge.salt,
        signature: challenge.signature,
      }));
      status.textContent = text(widget, "done");
      widget.setAttribute("data-captcha-state", "done");
      var expires = expiresAt(challenge.salt);
      if (expires) {
        // A solution expires with its challenge: solve a fresh one shortly before that.
        var wait = Math.max(expires - Date.now() - 30000, 1000);
        window.setTimeout(function () { run(widget, form); }, wait);
      }
    } catch (error) {
      // Let the form post anyway: the server then says what is missing, in words.
      status.textContent = error && error.forPeople ? error.message : text(widget, "load-failed");
      widget.setAttribute("data-captcha-state", "error");
    } finally {
      widget.removeAttribute("aria-busy");
      release(buttons);
    }
  }

  function start() {
    document.querySelectorAll("[data-captcha]").forEach(function (widget) {
      var form = widget.closest("form");
      if (form) {
        run(widget, form);
      }
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
