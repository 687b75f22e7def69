// The phone's app: a Jupiter client of the device process (hub) over one
// WebSocket. Local edits apply at once and go up one in flight at a time
// (later ones composed into a buffer); the hub's ops are transformed past
// them and applied in place, the caret and selection moved through them.
"use strict";

(() => {
  const $ = (id) => document.getElementById(id);
  const ta = $("text"), backdrop = $("backdrop");
  const token = new URLSearchParams(location.search).get("t") || "";

  const st = {
    ws: null, doc: "", shown: "", version: 0, counter: 0,
    inflight: null, buffer: null, commands: [], // undo/redo wait for the edits before them
    bufferJoin: false, run: null,               // undo steps: a run of typing is one
    composing: false, held: [],                 // hub ops held while an IME composes
    status: null, peers: [], members: [], docs: [], self: "",
    sentSel: null, selTimer: 0,
    names: {}, // member ID -> the name presence last gave it
    app: "", views: {}, // the mirrored app shown instead of the editor, and the last views
  };
  // For tests and the curious: the page's state.
  window.c2c = {
    state: st,
    synced: () => st.inflight === null && st.buffer === null && st.commands.length === 0 && st.ws !== null && st.ws.readyState === 1,
  };

  function send(m) { if (st.ws && st.ws.readyState === 1) st.ws.send(JSON.stringify(m)); }

  // --- connection to the device process ---
  function connect() {
    const ws = new WebSocket(`ws://${location.host}/ws?t=${encodeURIComponent(token)}`);
    st.ws = ws;
    ws.onopen = () => { $("pagelink").hidden = true; };
    ws.onmessage = (ev) => receive(JSON.parse(ev.data));
    ws.onclose = (ev) => {
      if (st.ws !== ws) return;
      st.ws = null;
      st.doc = ""; // the next session opens it again (from a snapshot)
      const p = $("pagelink");
      p.textContent = "The page lost its connection to the device process" + (ev.reason ? ` (${ev.reason})` : "") + "; retrying…";
      p.hidden = false;
      ta.disabled = true;
      setTimeout(connect, 1000);
    };
  }

  function receive(m) {
    switch (m.t) {
    case "docs":
      st.docs = m.docs || []; st.self = m.self || "";
      $("device").textContent = st.self;
      renderDocs();
      { const want = new URLSearchParams(location.hash.slice(1)).get("doc") || (st.docs.length === 1 ? st.docs[0].id : "");
        if (want) open(want); }
      break;
    case "snapshot":
      st.doc = m.doc; st.version = m.v || 0; st.counter = 0;
      st.inflight = null; st.buffer = null; st.commands = []; st.held = [];
      setText(m.text || "", null);
      ta.disabled = false;
      $("docname").textContent = "document " + m.doc;
      document.body.dataset.doc = m.doc;
      renderDocs();
      break;
    case "op":
      if (st.composing) st.held.push(m.op); else remote(m.op);
      break;
    case "ack":
      st.version++;
      st.inflight = null;
      if (st.buffer) { const b = st.buffer; st.buffer = null; sendEdit(b, st.bufferJoin); }
      flushCommands();
      renderStatus();
      break;
    case "status": st.status = m.status; renderStatus(); break;
    case "members": st.members = m.members || []; renderMembers(); break;
    case "presence": st.peers = m.peers || []; renderMembers(); renderPeers(); break;
    case "mirror":
      for (const v of m.views || []) st.views[v.name] = v;
      st.mirrorError = m.error || "";
      renderApp();
      break;
    case "scan":
      if (m.views && m.views.length) st.views.scan = m.views[0];
      st.scanError = m.error || ""; st.scanning = false;
      renderApp();
      break;
    case "error": console.warn("device:", m.error); break;
    }
  }

  function open(id) {
    showApp("");
    if (id === st.doc) return;
    history.replaceState(null, "", `${location.pathname}${location.search}#doc=${id}`);
    send({ t: "open", doc: id });
  }

  // --- the Jupiter client ---
  function sendEdit(op, join) {
    st.counter++;
    st.inflight = op;
    const m = { t: "edit", c: st.counter, v: st.version, op };
    if (join) m.g = true;
    send(m);
  }

  // local sends op, or buffers it behind the edit in flight; join: it
  // continues the undo step of the edit before it.
  function local(op, join) {
    if (st.inflight === null) sendEdit(op, join);
    else if (st.buffer) { st.buffer = OT.compose(st.buffer, op); st.bufferJoin = st.bufferJoin && join; }
    else { st.buffer = op; st.bufferJoin = join; }
    renderStatus();
  }

  // continues tells whether an input belongs to the current run of typing:
  // same kind (insert or delete), where the last one left the caret, and
  // within a second of it.
  function continues(op) {
    let at = 0, kind = "", ins = 0;
    for (const c of op) {
      if (typeof c === "number" && c > 0) { if (kind) break; at += c; }
      else if (typeof c === "string") { kind = kind || "insert"; ins += OT.cpLen(c); }
      else kind = kind === "insert" ? "replace" : "delete";
    }
    const now = Date.now(), prev = st.run;
    const end = kind === "insert" ? at + ins : at;
    st.run = { kind, end, time: now };
    if (!prev || kind === "replace" || prev.kind !== kind || now - prev.time > 1000) return false;
    return kind === "insert" ? at === prev.end : (at === prev.end || at + 1 === prev.end);
  }

  function remote(op) {
    if (st.inflight) [op, st.inflight] = OT.transform(op, st.inflight);
    if (st.buffer) [op, st.buffer] = OT.transform(op, st.buffer);
    st.version++;
    if (st.run) st.run.end = OT.transformIndex(op, st.run.end);
    setText(OT.apply(op, st.shown), op);
  }

  // undo and redo go once every edit before them reached the device, so
  // they take back the edit the user meant.
  function command(t) { st.run = null; st.commands.push(t); flushCommands(); }
  function flushCommands() {
    while (st.commands.length && st.inflight === null && st.buffer === null) send({ t: st.commands.shift() });
  }

  // --- the textarea ---
  // setText shows text, moving the caret and selection through op (null:
  // a fresh snapshot, caret kept by offset).
  function setText(text, op) {
    const old = st.shown;
    const focused = document.activeElement === ta;
    let a = OT.u16ToCp(old, ta.selectionStart), b = OT.u16ToCp(old, ta.selectionEnd);
    if (op) { a = OT.transformIndex(op, a); b = OT.transformIndex(op, b); }
    const top = ta.scrollTop;
    st.shown = text;
    if (ta.value !== text) ta.value = text;
    const n = OT.cpLen(text);
    ta.setSelectionRange(OT.cpToU16(text, Math.min(a, n)), OT.cpToU16(text, Math.min(b, n)), ta.selectionDirection);
    ta.scrollTop = top;
    if (focused) ta.focus();
    if (op) for (const p of st.peers) { p.sel.a = OT.transformIndex(op, p.sel.a); p.sel.h = OT.transformIndex(op, p.sel.h); }
    renderPeers();
  }

  ta.addEventListener("input", () => {
    if (st.composing) return;
    takeInput();
  });
  function takeInput() {
    const now = ta.value;
    if (now === st.shown) return;
    const op = OT.diff(st.shown, now, ta.selectionEnd);
    st.shown = now;
    local(op, continues(op));
    for (const p of st.peers) { p.sel.a = OT.transformIndex(op, p.sel.a); p.sel.h = OT.transformIndex(op, p.sel.h); }
    renderPeers();
    selChanged();
  }
  ta.addEventListener("compositionstart", () => { st.composing = true; });
  ta.addEventListener("compositionend", () => {
    st.composing = false;
    takeInput();
    const held = st.held; st.held = [];
    for (const op of held) remote(op);
  });
  ta.addEventListener("keydown", (e) => {
    if (!(e.ctrlKey || e.metaKey) || e.altKey) return;
    const k = e.key.toLowerCase();
    if (k === "z" && !e.shiftKey) { e.preventDefault(); command("undo"); }
    else if ((k === "z" && e.shiftKey) || k === "y") { e.preventDefault(); command("redo"); }
  });
  ta.addEventListener("beforeinput", (e) => {
    if (e.inputType === "historyUndo") { e.preventDefault(); command("undo"); }
    if (e.inputType === "historyRedo") { e.preventDefault(); command("redo"); }
  });
  ta.addEventListener("scroll", () => { backdrop.scrollTop = ta.scrollTop; });
  document.addEventListener("selectionchange", () => { if (document.activeElement === ta) selChanged(); });
  ta.addEventListener("select", selChanged);
  ta.addEventListener("keyup", selChanged);
  ta.addEventListener("mouseup", selChanged);

  // selChanged sends the caret (code points), at most every 50 ms.
  function selChanged() {
    if (st.selTimer) return;
    st.selTimer = setTimeout(() => {
      st.selTimer = 0;
      const dirBack = ta.selectionDirection === "backward";
      const s = OT.u16ToCp(st.shown, ta.selectionStart), e = OT.u16ToCp(st.shown, ta.selectionEnd);
      const sel = dirBack ? { a: e, h: s } : { a: s, h: e };
      if (st.sentSel && st.sentSel.a === sel.a && st.sentSel.h === sel.h) return;
      st.sentSel = sel;
      send({ t: "sel", a: sel.a, h: sel.h });
    }, 50);
  }

  // --- the phone's mirrored apps ---
  for (const li of document.querySelectorAll("#apps li")) li.onclick = () => showApp(li.dataset.app);
  $("refresh").onclick = () => showApp(st.app, true);
  function showApp(app, again) {
    st.app = app;
    $("editor").hidden = !!app;
    $("mirror").hidden = !app;
    for (const li of document.querySelectorAll("#apps li")) li.className = li.dataset.app === app ? "current" : "";
    if (!app) return;
    if (app === "scan") {
      if (again || !st.views.scan) { st.scanning = true; send({ t: "scan" }); }
    } else if (again || !st.views[app]) send({ t: "mirror" });
    renderApp();
  }
  function renderApp() {
    const app = st.app;
    if (!app) return;
    const names = { files: "Files", inbox: "Inbox", outbox: "Outbox", downloads: "Downloads", scan: "Scan results" };
    $("appname").textContent = names[app] || app;
    const body = $("appbody");
    body.replaceChildren();
    body.className = "";
    const err = app === "scan" ? st.scanError : st.mirrorError;
    const v = st.views[app];
    if (app === "scan" && st.scanning) {
      body.className = "muted"; body.textContent = "The clone is scanning the mirror (its provider's antivirus)…";
      return;
    }
    if (err) { body.className = "muted"; body.textContent = err; }
    if (!v) { if (!err) { body.className = "muted"; body.textContent = "asking the clone…"; } return; }
    if (v.rows && v.rows.length) {
      const table = document.createElement("table");
      const head = table.createTHead().insertRow();
      for (const c of v.columns || []) { const th = document.createElement("th"); th.textContent = c; head.appendChild(th); }
      const tb = table.createTBody();
      for (const r of v.rows) {
        const tr = tb.insertRow();
        for (const cell of r) {
          const td = tr.insertCell();
          td.textContent = cell;
          if (/^INFECTED|^error/.test(cell)) td.className = "bad";
        }
      }
      body.appendChild(table);
    }
    if (v.note) { const p = document.createElement("p"); p.className = "note"; p.textContent = v.note; body.appendChild(p); }
  }

  $("undo").onclick = () => command("undo");
  $("redo").onclick = () => command("redo");
  $("toggle").onclick = () => {
    const s = st.status;
    send({ t: "connect", online: !(s && s.wanted) });
  };

  // --- rendering ---
  function renderDocs() {
    const ul = $("docs");
    ul.innerHTML = "";
    if (!st.docs.length) ul.innerHTML = '<li class="muted">no documents on this device</li>';
    for (const d of st.docs) {
      const li = document.createElement("li");
      li.textContent = d.id.slice(0, 16) + "…";
      li.title = d.id;
      li.dataset.id = d.id;
      if (d.id === st.doc) li.className = "current";
      li.onclick = () => open(d.id);
      ul.appendChild(li);
    }
  }

  function renderStatus() {
    const s = st.status || {};
    const link = $("link");
    // The link is per document: nothing to show before one is open.
    link.hidden = !st.status;
    $("toggle").disabled = !st.status;
    document.body.dataset.online = String(!!s.online);
    link.className = "pill" + (s.online ? "" : (s.wanted && !s.refused ? " connecting" : " off"));
    link.textContent = s.online ? "online" : (s.refused ? "stopped" : (s.wanted ? "connecting…" : "offline"));
    link.title = s.linkErr || "the device's link to its clone";
    $("toggle").textContent = s.wanted ? "Go offline" : "Go online";
    const saving = $("saving");
    saving.hidden = !(s.pending || st.inflight || st.buffer);
    saving.textContent = s.online || !st.status ? "saving…" : "edits kept on this device";
    $("undo").disabled = !s.canUndo && !st.inflight && !st.buffer;
    $("redo").disabled = !s.canRedo;
    const b = $("banner");
    if (s.refused) {
      b.className = "fork"; b.dataset.kind = "fork"; b.hidden = false;
      b.textContent = (/fork/i.test(s.refused)
        ? "Fork detected: the sequencer showed this document's members different histories. "
        : "The clone stopped this document. ") + "Nothing more is sent; your clone keeps the evidence (" + s.refused + ").";
    } else if (s.alarm) {
      b.className = "stall"; b.dataset.kind = "stall"; b.hidden = false;
      b.textContent = "Sequencer alarm: " + s.alarm + ". Your edits are kept and go out when it resumes.";
    } else { b.hidden = true; b.dataset.kind = ""; }
  }

  function renderMembers() {
    const ul = $("members");
    ul.innerHTML = "";
    const peer = {};
    for (const p of st.peers) { peer[p.member] = p; st.names[p.member] = p.name || p.device; }
    const rows = st.members.length ? st.members : st.peers.map((p) => ({ id: p.member, role: "" }));
    if (!rows.length) ul.innerHTML = '<li class="muted">members not known yet</li>';
    for (const m of rows) {
      const p = peer[m.id];
      const li = document.createElement("li");
      li.dataset.member = m.id;
      if (m.self) li.dataset.self = "true";
      li.innerHTML = `<span class="dot"></span><span class="name"></span><span class="role"></span>`;
      li.querySelector(".dot").style.background = p ? p.color : (m.self ? "#1d2330" : "#aab");
      const name = m.self ? `${st.self || "this device"} (you)` : st.names[m.id] || `member ${m.id.slice(0, 8)}`;
      li.querySelector(".name").textContent = name;
      li.querySelector(".name").title = m.id;
      if (m.role) li.querySelector(".role").textContent = m.role; else li.querySelector(".role").remove();
      ul.appendChild(li);
    }
  }

  // renderPeers draws the other members' carets and selections in the
  // backdrop, a copy of the text laid out exactly like the textarea.
  function renderPeers() {
    const text = st.shown, n = OT.cpLen(text);
    const marks = [];
    for (const p of st.peers) {
      const a = Math.min(p.sel.a, n), h = Math.min(p.sel.h, n);
      marks.push({ at: Math.min(a, h), end: Math.max(a, h), head: h, p });
    }
    const cuts = new Set([0, n]);
    for (const m of marks) { cuts.add(m.at); cuts.add(m.end); cuts.add(m.head); }
    const points = [...cuts].sort((x, y) => x - y);
    // Built with the DOM, not innerHTML: the page's CSP refuses inline
    // style attributes, and the text stays text.
    const out = document.createDocumentFragment();
    for (let i = 0; i < points.length; i++) {
      const at = points[i];
      for (const m of marks) if (m.head === at) {
        const caret = document.createElement("span");
        caret.className = "caret";
        caret.dataset.member = m.p.member;
        caret.dataset.pos = String(at);
        caret.style.borderColor = m.p.color;
        const label = document.createElement("span");
        label.className = "label";
        label.style.background = m.p.color;
        label.textContent = m.p.name || m.p.device || m.p.member.slice(0, 8);
        caret.appendChild(label);
        out.appendChild(caret);
      }
      if (i + 1 === points.length) break;
      const seg = text.slice(OT.cpToU16(text, at), OT.cpToU16(text, points[i + 1]));
      const over = marks.find((m) => m.at <= at && points[i + 1] <= m.end && m.at !== m.end);
      if (over) {
        const sel = document.createElement("span");
        sel.className = "sel";
        sel.style.background = over.p.color + "40";
        sel.textContent = seg;
        out.appendChild(sel);
      } else out.appendChild(document.createTextNode(seg));
    }
    out.appendChild(document.createTextNode("\n"));
    backdrop.replaceChildren(out);
    backdrop.scrollTop = ta.scrollTop;
  }

  // Edits not yet taken by the device process would be lost by a reload.
  window.addEventListener("beforeunload", (e) => {
    if (st.inflight !== null || st.buffer !== null) e.preventDefault();
  });

  renderStatus();
  connect();
})();
