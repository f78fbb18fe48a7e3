// Live show/hide of questionnaire questions whose `visibleIf` depends on answers on the same page.
// The server decides visibility again when the page is saved (governance/instruments/surveyjs.py); this
// only spares a round trip. It understands the same small syntax: {name}, "strings", ["lists"], =,
// contains, and, or, parentheses. Hidden questions are disabled, so their inputs are not posted.
(function () {
  "use strict";
  var conditionsNode = document.getElementById("assessment-conditions");
  var answersNode = document.getElementById("assessment-answers");
  var form = document.querySelector("form.assessment-page");
  if (!conditionsNode || !answersNode || !form) return;
  var conditions = JSON.parse(conditionsNode.textContent);
  var saved = JSON.parse(answersNode.textContent) || {};

  function tokenize(text) {
    var pattern = /\s*(?:(\{[A-Za-z0-9_\-]+\})|("[^"\\]*")|(=|\(|\)|\[|\]|,)|([A-Za-z]+))/y;
    var tokens = [];
    pattern.lastIndex = 0;
    text = text.replace(/\s+$/, "");
    while (pattern.lastIndex < text.length) {
      var start = pattern.lastIndex;
      var match = pattern.exec(text);
      if (!match || pattern.lastIndex === start) return null;
      if (match[1]) tokens.push(["name", match[1].slice(1, -1)]);
      else if (match[2]) tokens.push(["string", match[2].slice(1, -1)]);
      else if (match[3]) tokens.push(["op", match[3]]);
      else tokens.push(["op", match[4].toLowerCase()]);
    }
    return tokens;
  }

  function parse(text) {
    var tokens = tokenize(text);
    if (!tokens) return null;
    var index = 0;
    function peek() { return tokens[index] || [null, null]; }
    function take() { return tokens[index++]; }
    function operand() {
      if (peek()[0] === "string") return take()[1];
      take();
      var items = [take()[1]];
      while (peek()[1] === ",") { take(); items.push(take()[1]); }
      take();
      return items;
    }
    function comparison() {
      if (peek()[1] === "(") { take(); var inner = or(); take(); return inner; }
      var name = take()[1];
      var operator = take()[1];
      return [operator, name, operand()];
    }
    function and() {
      var parts = [comparison()];
      while (peek()[1] === "and") { take(); parts.push(comparison()); }
      return parts.length > 1 ? ["and", parts] : parts[0];
    }
    function or() {
      var parts = [and()];
      while (peek()[1] === "or") { take(); parts.push(and()); }
      return parts.length > 1 ? ["or", parts] : parts[0];
    }
    return or();
  }

  function contains(left, right) {
    if (left === undefined || left === "" || (Array.isArray(left) && !left.length)) return false;
    if (typeof left === "string") {
      var needle = Array.isArray(right) ? right.join(",") : right;
      return needle !== "" && left.indexOf(needle) !== -1;
    }
    var wanted = Array.isArray(right) ? right : [right];
    return wanted.every(function (item) { return left.indexOf(item) !== -1; });
  }

  function evaluate(tree, answers) {
    if (tree[0] === "and") return tree[1].every(function (part) { return evaluate(part, answers); });
    if (tree[0] === "or") return tree[1].some(function (part) { return evaluate(part, answers); });
    var value = answers[tree[1]];
    if (tree[0] === "=") return value !== undefined && value === tree[2];
    return contains(value, tree[2]);
  }

  var parsed = {};
  Object.keys(conditions).forEach(function (name) {
    parsed[name] = conditions[name].map(parse);
  });
  if (Object.keys(parsed).some(function (name) { return parsed[name].indexOf(null) !== -1; })) return;

  var fieldsets = Array.prototype.slice.call(form.querySelectorAll("fieldset[data-question]"));

  function valueOf(fieldset) {
    var inputs = fieldset.querySelectorAll("[name]");
    var values = [];
    var multiple = false;
    Array.prototype.forEach.call(inputs, function (input) {
      if (input.type === "checkbox") { multiple = true; if (input.checked) values.push(input.value); }
      else if (input.type === "radio") { if (input.checked) values.push(input.value); }
      else if (input.value !== "") values.push(input.value);
    });
    if (multiple) return values.length ? values : undefined;
    return values.length ? values[0] : undefined;
  }

  function refresh() {
    var answers = Object.assign({}, saved);
    var visible = {};
    fieldsets.forEach(function (fieldset) { visible[fieldset.dataset.question] = true; });
    // Repeat until nothing changes: hiding one answer can hide the question that depends on it.
    for (var round = 0; round < fieldsets.length + 1; round++) {
      fieldsets.forEach(function (fieldset) {
        var name = fieldset.dataset.question;
        var value = visible[name] ? valueOf(fieldset) : undefined;
        if (value === undefined) delete answers[name]; else answers[name] = value;
      });
      var changed = false;
      fieldsets.forEach(function (fieldset) {
        var name = fieldset.dataset.question;
        var shown = (parsed[name] || []).every(function (tree) { return evaluate(tree, answers); });
        if (shown !== visible[name]) { visible[name] = shown; changed = true; }
      });
      if (!changed) break;
    }
    fieldsets.forEach(function (fieldset) {
      var shown = visible[fieldset.dataset.question];
      fieldset.hidden = !shown;
      fieldset.disabled = !shown;
    });
  }

  form.addEventListener("change", refresh);
  refresh();
})();
