// Condition builder of the policy console: asks the server (governance/condition_builder.py, the one place that
// writes CEL from a field, an operator and a value) for the expression, then adds it to the rule above.
"use strict";
document.addEventListener("click", async (event) => {
    const button = event.target.closest(".condition-builder [data-part=insert]");
    if (!button) return;
    const builder = button.closest(".condition-builder");
    const textarea = builder.closest(".cel-field").querySelector("textarea");
    const status = builder.querySelector("[role=status]");
    const part = (name) => builder.querySelector(`[data-part=${name}]`).value;
    const query = new URLSearchParams({field: part("field"), operator: part("operator"), value: part("value")});
    try {
        const response = await fetch(`${builder.dataset.url}?${query}`, {credentials: "same-origin"});
        const body = await response.json();
        if (!response.ok) {
            status.textContent = body.error;
            return;
        }
        const current = textarea.value.trim();
        textarea.value = !current || current === "true" ? body.expression
            : `${current.includes("||") ? `(${current})` : current} && ${body.expression}`;
        status.textContent = body.expression;
        textarea.focus();
    } catch (error) {
        status.textContent = String(error);
    }
});
