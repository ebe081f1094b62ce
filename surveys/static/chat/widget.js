/* civicvoice end-of-chat survey widget: one script tag, no framework, no dependency.
 *
 *   <script src="https://feedback.example.gov.uk/chat/widget.js" data-token="TOKEN" async></script>
 *
 * The chat platform's server gets TOKEN from POST /api/v1/chat/chats/{chat_id}/token (HMAC-signed; its secret
 * never reaches the browser). The widget appears where the tag is (or in the element named by data-target),
 * asks the survey's satisfaction question as a fieldset of radio buttons and an optional comment, and posts the
 * answer with the token. Everything is built with DOM methods and textContent: nothing from the server is ever
 * parsed as HTML. Optional attributes: data-target (an element id), data-heading-level (2 to 6; default 2),
 * data-language (a language the survey offers, "cy" for Welsh: the token's answer puts it in `embed` when the
 * platform asked for it). The widget's own words come from the server, in the survey's language.
 */
(function () {
  "use strict";

  var script = document.currentScript;
  if (!script || !script.getAttribute("data-token")) {
    return;
  }
  var token = script.getAttribute("data-token");
  var language = script.getAttribute("data-language") || "";
  var base = new URL(script.src, document.baseURI).origin;
  var uid = "cvw-" + Math.random().toString(36).slice(2, 10);
  var level = parseInt(script.getAttribute("data-heading-level") || "2", 10);
  if (!(level >= 2 && level <= 6)) {
    level = 2;
  }

  // Until the survey arrives with its own words (in its language); then replaced by them.
  var MESSAGES = {
    thanks: "Thank you for your feedback.",
    answered: "Thank you, we already have your answer.",
    closed: "This survey has closed.",
    choose: "Select how satisfied you were",
    failed: "Your answer could not be sent. Check your connection and try again.",
    send: "Send feedback",
    sending: "Sending",
    optional: "(optional)",
    privacy: "How we use your feedback (privacy notice, opens in a new tab)",
  };

  function useMessages(given) {
    Object.keys(given || {}).forEach(function (name) {
      if (typeof given[name] === "string" && given[name]) {
        MESSAGES[name] = given[name];
      }
    });
  }

  function element(tag, attributes, text) {
    var node = document.createElement(tag);
    Object.keys(attributes || {}).forEach(function (name) {
      node.setAttribute(name, attributes[name]);
    });
    if (text) {
      node.textContent = text;
    }
    return node;
  }

  function call(method, path, body) {
    return fetch(base + path, {
      method: method,
      mode: "cors",
      credentials: "omit",
      cache: "no-store",
      referrerPolicy: "no-referrer",
      headers: body
        ? { Authorization: "Bearer " + token, "Content-Type": "application/json" }
        : { Authorization: "Bearer " + token },
      body: body ? JSON.stringify(body) : undefined,
    });
  }

  function addStyleSheet() {
    var href = base + "/chat/widget.css";
    if (!document.querySelector('link[href="' + href + '"]')) {
      document.head.appendChild(element("link", { rel: "stylesheet", href: href }));
    }
  }

  function place(section) {
    var target = script.getAttribute("data-target");
    var host = target ? document.getElementById(target) : null;
    if (host) {
      host.appendChild(section);
    } else {
      script.parentNode.insertBefore(section, script.nextSibling);
    }
  }

  function render(survey) {
    useMessages(survey.messages);
    var section = element("section", { class: "cvw", lang: survey.language, "aria-labelledby": uid + "-title" });
    section.appendChild(element("h" + level, { class: "cvw__title", id: uid + "-title" }, survey.title));
    var form = element("form", { class: "cvw__form", novalidate: "" });

    var question = survey.question;
    var described = [];
    var fieldset = element("fieldset", { class: "cvw__fieldset" });
    fieldset.appendChild(element("legend", { class: "cvw__legend" }, question.text));
    if (question.hint) {
      fieldset.appendChild(element("p", { class: "cvw__hint", id: uid + "-hint" }, question.hint));
      described.push(uid + "-hint");
    }
    var error = element("p", { class: "cvw__error", id: uid + "-error", hidden: "" });
    fieldset.appendChild(error);
    var radios = [];
    var choices = element("div", { class: "cvw__choices" });
    question.choices.forEach(function (choice, index) {
      var id = uid + "-rating-" + index;
      var item = element("div", { class: "cvw__choice" });
      var input = element("input", { type: "radio", class: "cvw__radio", id: id, name: uid + "-rating" });
      input.value = choice.value;
      radios.push(input);
      item.appendChild(input);
      item.appendChild(element("label", { class: "cvw__label", for: id }, choice.label));
      choices.appendChild(item);
    });
    fieldset.appendChild(choices);
    if (described.length) {
      fieldset.setAttribute("aria-describedby", described.join(" "));
    }
    form.appendChild(fieldset);

    var textarea = null;
    var comment = survey.comment;
    if (comment) {
      var group = element("div", { class: "cvw__group" });
      group.appendChild(
        element("label", { class: "cvw__label cvw__label--block", for: uid + "-comment" }, comment.text + " " + MESSAGES.optional)
      );
      var limit = MESSAGES.limit || "You can enter up to " + comment.max_length.toLocaleString("en-GB") + " characters";
      var hint = (comment.hint ? comment.hint + " " : "") + limit + ".";
      group.appendChild(element("p", { class: "cvw__hint", id: uid + "-comment-hint" }, hint));
      var commentError = element("p", { class: "cvw__error", id: uid + "-comment-error", hidden: "" });
      group.appendChild(commentError);
      textarea = element("textarea", {
        class: "cvw__textarea",
        id: uid + "-comment",
        rows: "3",
        "aria-describedby": uid + "-comment-hint",
      });
      group.appendChild(textarea);
      form.appendChild(group);
    }

    var button = element("button", { type: "submit", class: "cvw__button" }, MESSAGES.send);
    form.appendChild(button);
    section.appendChild(form);
    if (/^https?:\/\//.test(survey.privacy_notice_url || "")) {
      var notice = element("p", { class: "cvw__small" });
      notice.appendChild(
        element("a", { class: "cvw__link", href: survey.privacy_notice_url, target: "_blank", rel: "noopener noreferrer" }, MESSAGES.privacy)
      );
      section.appendChild(notice);
    }
    // Announced when it changes; focused when the survey is done, so the reader lands on the outcome.
    var status = element("p", { class: "cvw__status", role: "status", "aria-live": "polite", tabindex: "-1", id: uid + "-status" });
    section.appendChild(status);

    function showError(node, message, focus, describedNode) {
      node.textContent = message;
      node.hidden = false;
      var ids = (describedNode.getAttribute("aria-describedby") || "").split(" ").filter(Boolean);
      if (ids.indexOf(node.id) < 0) {
        describedNode.setAttribute("aria-describedby", ids.concat([node.id]).join(" "));
      }
      focus.focus();
    }

    function clearErrors() {
      [error, section.querySelector("#" + uid + "-comment-error")].forEach(function (node) {
        if (node) {
          node.hidden = true;
          node.textContent = "";
        }
      });
    }

    function finish(message) {
      form.hidden = true;
      status.textContent = message;
      status.focus();
    }

    form.addEventListener("submit", function (event) {
      event.preventDefault();
      clearErrors();
      var picked = radios.filter(function (radio) {
        return radio.checked;
      })[0];
      if (!picked) {
        showError(error, MESSAGES.choose, radios[0], fieldset);
        return;
      }
      var text = textarea ? textarea.value.trim() : "";
      if (textarea && text.length > comment.max_length) {
        showError(
          section.querySelector("#" + uid + "-comment-error"),
          MESSAGES.too_long || comment.text.replace(/\?$/, "") + " must be " + comment.max_length.toLocaleString("en-GB") + " characters or fewer",
          textarea,
          textarea
        );
        return;
      }
      button.disabled = true;
      button.textContent = MESSAGES.sending;
      var body = { rating: picked.value, language: survey.language || "en" };
      if (text) {
        body.comment = text;
      }
      call("POST", "/api/v1/chat/answers", body)
        .then(function (response) {
          if (response.status === 201) {
            finish(MESSAGES.thanks);
          } else if (response.status === 409) {
            finish(MESSAGES.answered);
          } else if (response.status === 410 || response.status === 401 || response.status === 404) {
            finish(MESSAGES.closed);
          } else {
            return response.json().then(function (problem) {
              var where = problem.field === "comment" && textarea ? textarea : radios[0];
              var node = where === textarea ? section.querySelector("#" + uid + "-comment-error") : error;
              showError(node, problem.detail || MESSAGES.failed, where, where === textarea ? textarea : fieldset);
            });
          }
        })
        .catch(function () {
          status.textContent = MESSAGES.failed;
        })
        .then(function () {
          button.disabled = false;
          button.textContent = MESSAGES.send;
        });
    });

    place(section);
  }

  addStyleSheet();
  call("GET", "/api/v1/chat/survey" + (language ? "?language=" + encodeURIComponent(language) : ""))
    .then(function (response) {
      // No survey for this chat (answered, closed, not invited): the chat window stays as it is.
      return response.ok ? response.json().then(render) : null;
    })
    .catch(function () {
      return null;
    });
})();
