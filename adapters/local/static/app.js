"use strict";
// The local chat: plain DOM and fetch, no build step.
const state = { member: null, conversation: null, versions: "" };
const $ = (sel) => document.querySelector(sel);

async function api(path, body) {
  const opts = body === undefined ? {} : {
    method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body),
  };
  const res = await fetch(path, opts);
  if (!res.ok) throw new Error(await res.text());
  return res.json();
}

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
  if (reply.notice) toast(reply.notice);
  // A confirmation the server does not store (e.g. which number was pressed): shown, then gone.
  if (reply.toast) toast(reply.toast);
  await refresh(true);
}

async function loadMembers() {
  const members = await api("/local/api/members");
  const who = $("#who");
  for (const m of members) {
    const opt = document.createElement("option");
    opt.value = m.id;
    const roles = m.units.flatMap((u) => u.roles).filter((r) => r !== "member");
    opt.textContent = m.name + (m.units.length ? ` — ${m.units.map((u) => u.unit).join(", ")}` : "")
      + (roles.length ? ` (${[...new Set(roles)].join(", ")})` : "");
    who.append(opt);
  }
  const saved = localStorage.getItem("medpuls.member");
  if (saved && members.some((m) => String(m.id) === saved)) { who.value = saved; await pick(saved); }
}

async function pick(memberId) {
  state.member = memberId ? Number(memberId) : null;
  localStorage.setItem("medpuls.member", memberId || "");
  $("#say").disabled = !state.member;
  $("#composer button").disabled = !state.member;
  const nav = $("#convs");
  nav.innerHTML = "";
  if (!state.member) return;
  const convs = await api(`/local/api/conversations?member=${state.member}`);
  for (const c of convs) {
    const a = document.createElement("a");
    a.href = "#";
    a.dataset.conversation = c.id;
    a.className = c.kind;
    a.textContent = c.title;
    a.addEventListener("click", (e) => { e.preventDefault(); openConversation(c.id, c.title); });
    nav.append(a);
  }
  openConversation(convs[0].id, convs[0].title);
}

function openConversation(id, title) {
  state.conversation = id;
  state.versions = "";
  $("#convtitle").textContent = title;
  document.querySelectorAll("#convs a").forEach((a) => a.classList.toggle("active", a.dataset.conversation === id));
  refresh(true);
}

async function refresh(force) {
  if (!state.member || !state.conversation) return;
  const list = await api(`/local/api/messages?member=${state.member}&conversation=${encodeURIComponent(state.conversation)}`);
  const versions = list.map((m) => `${m.id}@${m.version}`).join(",");
  if (!force && versions === state.versions) return;
  state.versions = versions;
  const box = $("#messages");
  const atBottom = box.scrollHeight - box.scrollTop - box.clientHeight < 40;
  box.innerHTML = list.length ? "" : '<p class="empty">Ingen beskeder endnu.</p>';
  for (const m of list) {
    const div = document.createElement("article");
    div.className = "message";
    div.dataset.messageId = m.id;
    div.innerHTML = `<div class="avatar">M</div><div class="body"><div class="author">MEDpuls</div>${m.html}</div>`;
    box.append(div);
  }
  if (atBottom || force) box.scrollTop = box.scrollHeight;
}

document.addEventListener("click", async (e) => {
  const button = e.target.closest("button[data-action]");
  if (button) {
    const article = button.closest("article.message");
    button.disabled = true;
    try {
      await handleReply(await api("/local/api/click", {
        member: state.member, data: button.dataset.action,
        conversation: state.conversation, message_id: article ? Number(article.dataset.messageId) : null,
      }));
    } catch (err) { toast(String(err.message)); } finally { button.disabled = false; }
    return;
  }
  if (e.target.closest(".btn.cancel")) closeForm();
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
  } catch (err) { toast(String(err.message)); }
});

$("#composer").addEventListener("submit", async (e) => {
  e.preventDefault();
  const input = $("#say");
  const text = input.value.trim();
  if (!text) return;
  input.value = "";
  try { await handleReply(await api("/local/api/say", { member: state.member, text })); }
  catch (err) { toast(String(err.message)); }
});

$("#who").addEventListener("change", (e) => pick(e.target.value));
document.addEventListener("keydown", (e) => { if (e.key === "Escape") closeForm(); });
setInterval(() => refresh(false).catch(() => {}), 1500);
loadMembers();
