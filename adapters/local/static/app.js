"use strict";
// The local chat: plain DOM and fetch, no build step.
const state = {
  member: null, conversation: null, versions: "", members: [], convs: [], frame: null,
  // Answers to clicks that Slack would show "only to you" and not keep: per conversation,
  // each placed after the message that was last when it came. Gone after a reload.
  ephemeral: {},
};
const $ = (sel) => document.querySelector(sel);
const esc = (s) => String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

async function api(path, body) {
  const opts = body === undefined ? {} : {
    method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body),
  };
  const res = await fetch(path, opts);
  if (!res.ok) throw new Error(await res.text());
  return res.json();
}

function word(key) { return state.frame ? state.frame.text[key] : ""; }

function toast(html) {
  const t = $("#toast");
  t.innerHTML = html;
  t.hidden = false;
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => { t.hidden = true; }, 6000);
}

function showForm(html) {
  const modal = $("#modal");
  modal.querySelector(".sheet").innerHTML = html;
  modal.hidden = false;
  const first = modal.querySelector("input, textarea, select");
  if (first) first.focus();
}

function closeForm() { $("#modal").hidden = true; }

function ephemeral(html) {
  const list = state.ephemeral[state.conversation] || (state.ephemeral[state.conversation] = []);
  const shown = document.querySelectorAll("#messages article.message[data-message-id]");
  const last = shown[shown.length - 1];
  list.push({ after: last ? last.dataset.messageId : null, html });
}

async function handleReply(reply, form) {
  if (reply.errors && form) {
    form.querySelectorAll(".error").forEach((e) => e.remove());
    for (const [name, msg] of Object.entries(reply.errors)) {
      const field = form.querySelector(`[name="${CSS.escape(name)}"]`);
      const small = document.createElement("small");
      small.className = "error";
      small.textContent = msg;
      (field || form).after(small);
    }
    return;
  }
  if (form) closeForm();
  if (reply.form) showForm(reply.form);
  // An answer to a typed message is in the conversation already (reply.posted); an answer
  // to a click is shown where it was clicked, to this person only.
  if (reply.notice && reply.posted === undefined) ephemeral(reply.notice);
  // A confirmation the server does not store (e.g. which number was pressed): shown, then gone.
  if (reply.toast) toast(reply.toast);
  await loadFrame();
  await refresh(true);
}

function memberLabel(m) {
  const roles = [...new Set(m.units.flatMap((u) => u.roles).filter((r) => r !== "member"))];
  const named = roles.map((r) => (state.frame && state.frame.roles[r]) || r);
  return m.name + (m.units.length ? ` — ${m.units.map((u) => u.unit).join(", ")}` : "")
    + (named.length ? ` (${named.join(", ")})` : "");
}

// The page's own words follow the chosen person's language (`sprog en` switches them).
async function loadFrame() {
  const frame = await api(`/local/api/frame${state.member ? `?member=${state.member}` : ""}`);
  const changed = !state.frame || state.frame.lang !== frame.lang;
  state.frame = frame;
  if (!changed) return;
  document.documentElement.lang = frame.lang;
  document.title = frame.text.title;
  document.querySelectorAll("[data-t]").forEach((el) => { el.textContent = frame.text[el.dataset.t]; });
  document.querySelectorAll("[data-t-placeholder]").forEach((el) => { el.placeholder = frame.text[el.dataset.tPlaceholder]; });
  document.querySelectorAll("[data-t-aria]").forEach((el) => { el.setAttribute("aria-label", frame.text[el.dataset.tAria]); });
  for (const opt of $("#who").options) {
    const m = state.members.find((x) => String(x.id) === opt.value);
    if (m) opt.textContent = memberLabel(m);
  }
  if (state.member) await loadConversations();
}

async function loadMembers() {
  await loadFrame();
  state.members = await api("/local/api/members");
  const who = $("#who");
  for (const m of state.members) {
    const opt = document.createElement("option");
    opt.value = m.id;
    opt.textContent = memberLabel(m);
    who.append(opt);
  }
  const saved = localStorage.getItem("medpuls.member");
  if (saved && state.members.some((m) => String(m.id) === saved)) { who.value = saved; await pick(saved); }
}

async function loadConversations() {
  const nav = $("#convs");
  state.convs = await api(`/local/api/conversations?member=${state.member}`);
  nav.innerHTML = "";
  for (const c of state.convs) {
    const a = document.createElement("a");
    a.href = "#";
    a.dataset.conversation = c.id;
    a.className = c.kind + (c.id === state.conversation ? " active" : "");
    a.textContent = c.title;
    a.addEventListener("click", (e) => { e.preventDefault(); openConversation(c.id); });
    nav.append(a);
  }
  const current = state.convs.find((c) => c.id === state.conversation);
  if (current) $("#convtitle").textContent = current.title;
}

async function pick(memberId) {
  state.member = memberId ? Number(memberId) : null;
  state.conversation = null;
  state.ephemeral = {};
  localStorage.setItem("medpuls.member", memberId || "");
  $("#say").disabled = !state.member;
  $("#composer button").disabled = !state.member;
  $("#convs").innerHTML = "";
  state.frame = null;
  await loadFrame();
  if (!state.member) return;
  await loadConversations();
  openConversation(state.convs[0].id);
}

function openConversation(id) {
  state.conversation = id;
  state.versions = "";
  const conv = state.convs.find((c) => c.id === id);
  $("#convtitle").textContent = conv ? conv.title : "";
  document.querySelectorAll("#convs a").forEach((a) => a.classList.toggle("active", a.dataset.conversation === id));
  return refresh(true);
}

function article(html, { id, mine, only }) {
  const div = document.createElement("article");
  div.className = "message" + (mine ? " mine" : "") + (only ? " ephemeral" : "");
  if (id !== undefined) div.dataset.messageId = id;
  const me = state.members.find((m) => m.id === state.member);
  const author = mine && me ? esc(me.name) : "MEDpuls";
  const initial = mine && me ? esc(me.name.slice(0, 1)) : "M";
  const note = only ? ` <span class="only">${esc(word("only_you"))}</span>` : "";
  div.innerHTML = `<div class="avatar">${initial}</div><div class="body"><div class="author">${author}${note}</div>${html}</div>`;
  return div;
}

async function refresh(force) {
  if (!state.member || !state.conversation) return;
  const list = await api(`/local/api/messages?member=${state.member}&conversation=${encodeURIComponent(state.conversation)}`);
  const extra = state.ephemeral[state.conversation] || [];
  const versions = list.map((m) => `${m.id}@${m.version}`).join(",") + `+${extra.length}`;
  if (!force && versions === state.versions) return;
  state.versions = versions;
  const box = $("#messages");
  const atBottom = box.scrollHeight - box.scrollTop - box.clientHeight < 40;
  box.innerHTML = list.length || extra.length ? "" : `<p class="empty">${esc(word("empty"))}</p>`;
  for (const e of extra.filter((x) => x.after === null)) box.append(article(e.html, { only: true }));
  for (const m of list) {
    box.append(article(m.html, { id: m.id, mine: m.mine }));
    for (const e of extra.filter((x) => x.after === String(m.id))) box.append(article(e.html, { only: true }));
  }
  if (atBottom || force) box.scrollTop = box.scrollHeight;
}

document.addEventListener("click", async (e) => {
  const button = e.target.closest("button[data-action]");
  if (button) {
    const holder = button.closest("article.message");
    const id = holder && holder.dataset.messageId;
    button.disabled = true;
    try {
      await handleReply(await api("/local/api/click", {
        member: state.member, data: button.dataset.action,
        conversation: state.conversation, message_id: id ? Number(id) : null,
      }));
    } catch (err) { toast(esc(err.message)); } finally { button.disabled = false; }
    return;
  }
  if (e.target.closest(".btn.cancel")) closeForm();
});

// Characters used of the field's limit, as they type.
document.addEventListener("input", (e) => {
  const field = e.target;
  if (!field.id || !field.maxLength || field.maxLength < 0) return;
  const counter = document.querySelector(`.counter[data-for="${CSS.escape(field.id)}"]`);
  if (!counter) return;
  counter.textContent = `${field.value.length} / ${field.maxLength}`;
  counter.classList.toggle("full", field.value.length >= field.maxLength);
});

document.addEventListener("submit", async (e) => {
  const form = e.target.closest("form.form");
  if (!form) return;
  e.preventDefault();
  const values = {};
  for (const el of form.elements) {
    if (!el.name) continue;
    values[el.name] = el.type === "checkbox" ? (el.checked ? "true" : "false") : el.value;
  }
  try {
    await handleReply(await api("/local/api/submit", { member: state.member, data: form.dataset.form, values }), form);
  } catch (err) { toast(esc(err.message)); }
});

// What they type goes to their direct conversation with MEDpuls, shown there with the answer.
$("#composer").addEventListener("submit", async (e) => {
  e.preventDefault();
  const input = $("#say");
  const text = input.value.trim();
  if (!text) return;
  input.value = "";
  const dm = `member:${state.member}`;
  try {
    if (state.conversation !== dm) await openConversation(dm);
    await handleReply(await api("/local/api/say", { member: state.member, text }));
  } catch (err) { toast(esc(err.message)); }
});

$("#who").addEventListener("change", (e) => pick(e.target.value));
document.addEventListener("keydown", (e) => { if (e.key === "Escape") closeForm(); });
setInterval(() => refresh(false).catch(() => {}), 1500);
loadMembers();
