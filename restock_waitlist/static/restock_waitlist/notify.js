/* restock_waitlist: progressive enhancement of the "Notify me" block.
 *
 * Without this script the block's forms post to the app's views and the page reloads with
 * a message. With it, and when the block carries data-api-url (the API is mounted), joins
 * and cancels go through the JSON API and the block changes in place: the status line
 * (role="status", aria-live="polite") says what happened and focus stays in the block.
 * No framework, no build step.
 */
(function () {
  "use strict";

  var POSITION = "{position}";

  function timeZone() {
    try {
      return Intl.DateTimeFormat().resolvedOptions().timeZone || "";
    } catch (error) {
      return "";
    }
  }

  function cookie(name) {
    var match = document.cookie.match("(?:^|; )" + name + "=([^;]*)");
    return match ? decodeURIComponent(match[1]) : "";
  }

  function csrfToken(form) {
    var input = form.querySelector("input[name=csrfmiddlewaretoken]");
    return input ? input.value : cookie("csrftoken");
  }

  /* DRF errors: a list of strings, or nested lists and objects for list fields. */
  function flatten(value) {
    if (value == null) return [];
    if (typeof value !== "object") return [String(value)];
    var values = Array.isArray(value) ? value : Object.keys(value).map(function (k) { return value[k]; });
    return values.reduce(function (all, item) { return all.concat(flatten(item)); }, []);
  }

  function Block(root) {
    this.root = root;
    this.api = root.getAttribute("data-api-url");
    this.body = root.querySelector("[data-rw-body]");
    this.status = root.querySelector("[data-rw-status]");
    this.templates = {};
    var templates = root.querySelectorAll("template[data-rw-template]");
    for (var i = 0; i < templates.length; i++) {
      this.templates[templates[i].getAttribute("data-rw-template")] = templates[i];
    }
    this.bind();
  }

  Block.prototype.message = function (key, position) {
    var text = this.root.getAttribute("data-msg-" + key) || "";
    return position == null ? text : text.split(POSITION).join(String(position));
  };

  Block.prototype.say = function (text) {
    // Clear first so that the same words twice are announced twice.
    this.status.textContent = "";
    var status = this.status;
    window.setTimeout(function () { status.textContent = text; }, 50);
  };

  Block.prototype.fillTimeZone = function () {
    var zone = this.body.querySelector("[data-rw-time-zone]");
    if (zone) zone.value = timeZone();
  };

  Block.prototype.bind = function () {
    this.fillTimeZone();
    if (!this.api) return; // no API mounted: the forms post as usual
    var join = this.body.querySelector("form[data-rw-join]");
    var cancel = this.body.querySelector("form[data-rw-cancel]");
    if (join) join.addEventListener("submit", this.onJoin.bind(this, join));
    if (cancel) cancel.addEventListener("submit", this.onCancel.bind(this, cancel));
  };

  Block.prototype.busy = function (form, busy) {
    this.root.setAttribute("aria-busy", busy ? "true" : "false");
    var buttons = form.querySelectorAll("button");
    for (var i = 0; i < buttons.length; i++) buttons[i].disabled = busy;
  };

  Block.prototype.request = function (form, method, url, payload) {
    var headers = { "Accept": "application/json", "X-CSRFToken": csrfToken(form) };
    if (payload) headers["Content-Type"] = "application/json";
    return window.fetch(url, {
      method: method,
      credentials: "same-origin",
      headers: headers,
      body: payload ? JSON.stringify(payload) : undefined
    }).then(function (response) {
      if (response.status === 204) return { status: 204, data: {} };
      return response.json().then(
        function (data) { return { status: response.status, data: data }; },
        function () { return { status: response.status, data: {} }; }
      );
    });
  };

  Block.prototype.clearErrors = function (form) {
    var errors = form.querySelectorAll("[data-rw-error]");
    for (var i = 0; i < errors.length; i++) errors[i].textContent = "";
    var invalid = form.querySelectorAll("[aria-invalid]");
    for (var j = 0; j < invalid.length; j++) invalid[j].removeAttribute("aria-invalid");
  };

  /* Put each field's errors next to it; anything else goes to the status line. */
  Block.prototype.showErrors = function (form, errors) {
    var unplaced = [];
    var first = null;
    Object.keys(errors).forEach(function (field) {
      var text = flatten(errors[field]).join(" ");
      var slot = form.querySelector('[data-rw-error="' + field + '"]');
      if (!slot) {
        unplaced.push(text);
        return;
      }
      slot.textContent = text;
      var input = form.querySelector('[name="' + field + '"]');
      if (input) {
        input.setAttribute("aria-invalid", "true");
        first = first || input;
      }
    });
    this.say(unplaced.join(" ") || "");
    if (first) first.focus();
  };

  Block.prototype.payload = function (form) {
    var data = new window.FormData(form);
    var payload = {
      product: data.get("product"),
      variant: data.get("variant") || null,
      channels: data.getAll("channels"),
      locale: data.get("locale") || "",
      time_zone: data.get("time_zone") || ""
    };
    // The consent record names this page's form, as without JavaScript.
    if (data.get("source")) payload.source = data.get("source");
    if (data.has("email")) payload.email = data.get("email");
    if (data.get("phone")) payload.phone = data.get("phone");
    if (form.querySelector("input[name=consent]")) payload.consent = data.get("consent") === "1";
    return payload;
  };

  Block.prototype.onJoin = function (form, event) {
    var channels = form.querySelectorAll('input[type=checkbox][name=channels]');
    var checked = form.querySelectorAll('input[type=checkbox][name=channels]:checked');
    event.preventDefault();
    this.clearErrors(form);
    if (channels.length && !checked.length) {
      this.showErrors(form, { channels: this.message("choose") });
      return;
    }
    var block = this;
    this.busy(form, true);
    this.say(this.message("sending"));
    this.request(form, "POST", this.api, this.payload(form)).then(function (result) {
      block.busy(form, false);
      if (result.status === 202) {
        // A guest: the same answer whether or not the address was on the list.
        form.reset();
        block.fillTimeZone();
        block.say(block.message("guest"));
      } else if (result.status === 201 || result.status === 200) {
        var key = result.status === 201 ? "joined" : "already";
        block.show("subscribed", result.data);
        block.say(block.message(key, result.data.position));
      } else if (result.status === 400) {
        block.showErrors(form, result.data);
      } else {
        block.say(result.data.detail || block.message("error"));
      }
    }, function () {
      block.busy(form, false);
      block.say(block.message("error"));
    });
  };

  Block.prototype.onCancel = function (form, event) {
    var entry = form.querySelector("[data-rw-entry]").value;
    event.preventDefault();
    var block = this;
    this.busy(form, true);
    this.say(this.message("sending"));
    this.request(form, "DELETE", this.api + encodeURIComponent(entry) + "/").then(function (result) {
      block.busy(form, false);
      if (result.status === 204 || result.status === 404) {
        block.show("join");
        block.say(block.message("cancelled"));
      } else {
        block.say(block.message("error"));
      }
    }, function () {
      block.busy(form, false);
      block.say(block.message("error"));
    });
  };

  /* Swap the body to another state, keeping the current one to come back to. The block
   * keeps the height it had, so content below does not jump. */
  Block.prototype.show = function (state, entry) {
    var template = this.templates[state];
    if (!template) return;
    var current = this.root.getAttribute("data-state");
    var previous = document.createElement("template");
    previous.innerHTML = this.body.innerHTML;
    this.templates[current] = previous;
    var height = this.body.offsetHeight;
    this.body.innerHTML = "";
    this.body.appendChild(document.importNode(template.content, true));
    this.body.style.minHeight = Math.max(height, this.body.offsetHeight) + "px";
    this.root.setAttribute("data-state", state);
    this.root.className = this.root.className.replace(/rw-notify--\S+/, "rw-notify--" + state);
    if (entry) {
      var id = this.body.querySelector("[data-rw-entry]");
      var position = this.body.querySelector("[data-rw-position]");
      if (id) id.value = entry.id;
      if (position) position.textContent = entry.position == null ? "" : entry.position;
    }
    this.bind();
    var focus = this.body.querySelector("button, input:not([type=hidden])");
    if (focus) focus.focus();
  };

  function init() {
    var roots = document.querySelectorAll("[data-restock-waitlist]");
    for (var i = 0; i < roots.length; i++) {
      if (!roots[i].restockWaitlist) roots[i].restockWaitlist = new Block(roots[i]);
    }
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
