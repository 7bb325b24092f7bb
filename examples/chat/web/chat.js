// The browser chat client: the terminal client's behaviour (examples/chat/client.py) in a page.
//
// One WebSocket to /chat on the page's own host, subprotocol actornet-chat.v1; every binary
// message is one chat payload (codec.js). The client registers a nick (Hello -> Welcome), joins
// rooms, keeps each joined room's members and topic, answers ServerPing, pings the server now
// and then to notice a dead connection, and reconnects with exponential backoff (0.5 s doubling
// to 30 s, +-25 % jitter, reset by Welcome), registering again and rejoining its rooms.
// Everything received is shown with textContent: no markup from the network ever reaches the DOM.
// index.html lists the element ids and data-* attributes tests rely on.
"use strict";

(function () {
  const C = window.ActornetChatCodec;
  const SUBPROTOCOL = "actornet-chat.v1";
  const FIRST_RETRY_DELAY = 500;
  const MAX_RETRY_DELAY = 30000;
  const PING_INTERVAL = 25000; // the server pings every 30 s; this notices a dead link sooner
  const PONG_TIMEOUT = 10000;
  const QUIT_TIMEOUT = 5000; // after Quit, how long the server may take to close
  const MAX_LOG_LINES = 2000;
  const MAX_NICK_LENGTH = 16;
  const NICK_STORAGE_KEY = "actornet-chat.nick";

  const HELP = [
    "/join #room              join a room, or switch to one you are in",
    "/leave [#room] [reason]  leave a room (default: the current one)",
    "/msg nick text           whisper to one person",
    "/nick newnick            change your nick",
    "/rooms                   list the rooms",
    "/names [#room]           list who is in a room",
    "/topic [#room] text      set a room's topic",
    "/quit [reason]           leave the chat",
    "/help                    this list",
    "anything else            said in the current room (//text says /text)",
  ];
  const USAGE = {
    join: "/join #room",
    leave: "/leave [#room] [reason]",
    msg: "/msg nick text",
    nick: "/nick newnick",
    names: "/names [#room]",
    topic: "/topic [#room] text",
  };
  const CLOSE_REASONS = {
    1000: "closed normally",
    1001: "the server is shutting down",
    1002: "protocol error",
    1003: "the server refused a text message",
    1005: "closed without a status",
    1006: "the connection was lost",
    1007: "invalid UTF-8",
    1008: "refused by the server's policy",
    1009: "a message was too big",
    1011: "server failure",
    1015: "TLS handshake failed",
  };
  // Closes after which trying again would fail the same way.
  const FINAL_CLOSE_CODES = new Set([1002, 1003, 1007]);

  const $ = (id) => document.getElementById(id);
  const ui = {
    status: $("status"),
    reconnect: $("reconnect"),
    login: $("login"),
    nickForm: $("nick-form"),
    nickInput: $("nick-input"),
    roomInput: $("room-input"),
    nickError: $("nick-error"),
    rooms: $("rooms"),
    joinForm: $("join-form"),
    joinInput: $("join-input"),
    listRooms: $("list-rooms"),
    currentRoom: $("current-room"),
    topic: $("topic"),
    log: $("log"),
    messageForm: $("message-form"),
    messageInput: $("message-input"),
    messageLabel: $("message-label"),
    members: $("members"),
    memberCount: $("member-count"),
    membersDetails: $("members-details"),
  };

  const state = {
    ws: null,
    phase: "idle", // idle | connecting | registering | connected | waiting | closed
    me: "", // the nick asked for; once registered, the nick held
    server: "",
    registered: false,
    renameIfTaken: false, // re-registering after a drop: append "_" if the nick was taken
    joined: new Map(), // room key -> room name as the server spells it
    joining: new Map(), // Join sent, Joined not yet seen
    wanted: [], // rooms to join on Welcome
    current: null, // the current room's name, or null
    members: new Map(), // room key -> Map(nick key -> nick)
    pendingNames: new Map(), // room key -> nicks of Names frames before NamesEnd
    topics: new Map(), // room key -> {topic, set_by}
    unread: new Map(), // room key -> count of Said since it was current
    quitting: false,
    stopped: null, // why the client gave up reconnecting, or null
    fatal: null, // the fatal Error that ended the connection
    retryDelay: FIRST_RETRY_DELAY,
    retryTimer: null,
    retryAt: 0,
    pingTimer: null,
    pongTimer: null,
    quitTimer: null,
    pingToken: 0,
    pingSentAt: 0,
    rtt: null,
    history: [], // lines typed, for arrow-up recall
    historyIndex: 0,
  };

  // -- names -----------------------------------------------------------------------------------

  // Nicks and rooms are ASCII and compared case-insensitively (docs/chat-protocol.md, Chat rules).
  const key = (name) => name.replace(/[A-Z]+/g, (s) => s.toLowerCase());
  const same = (a, b) => a !== null && b !== null && key(a) === key(b);
  const roomName = (name) => (name.startsWith("#") ? name : "#" + name);

  // -- the connection --------------------------------------------------------------------------

  function socketUrl() {
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    return `${scheme}//${location.host}/chat`;
  }

  function connect() {
    clearRetry();
    if (state.ws !== null) return;
    if (location.protocol !== "http:" && location.protocol !== "https:") {
      stop("open this page from the chat server (http://HOST:PORT/), not from a file");
      return;
    }
    state.stopped = null;
    state.fatal = null;
    state.quitting = false;
    setPhase("connecting", `connecting to ${location.host}…`);
    let socket;
    try {
      socket = new WebSocket(socketUrl(), SUBPROTOCOL);
    } catch (error) {
      stop(`cannot open a WebSocket: ${error.message}`);
      return;
    }
    socket.binaryType = "arraybuffer";
    state.ws = socket;
    let opened = false;
    socket.onopen = () => {
      if (socket !== state.ws) return;
      opened = true;
      if (socket.protocol !== SUBPROTOCOL) {
        info(`the server did not confirm subprotocol ${SUBPROTOCOL}; carrying on`);
      }
      info(`connected to ${location.host}`);
      register();
      state.pingTimer = setInterval(ping, PING_INTERVAL);
    };
    socket.onmessage = (event) => {
      if (socket === state.ws) receive(event.data);
    };
    socket.onclose = (event) => {
      if (socket !== state.ws) return;
      const reason = !opened
        ? `cannot connect to ${location.host}`
        : CLOSE_REASONS[event.code] || `closed with code ${event.code}`;
      const why = event.reason ? `${reason} (${event.code}: ${event.reason})` : reason;
      disconnected(why, { final: FINAL_CLOSE_CODES.has(event.code) });
    };
  }

  function register() {
    setPhase("registering", `registering as ${state.me}…`);
    send({ type: "Hello", version: C.PROTOCOL_VERSION, nick: state.me });
  }

  // Close the socket now and forget it: its late events are ignored.
  function drop(why, options) {
    const socket = state.ws;
    if (socket === null) return;
    state.ws = null; // first: the socket's own close event is then ignored
    try {
      socket.close(1000, "client closing");
    } catch (error) {
      // closing a socket that never opened may throw; it is gone either way
    }
    disconnected(why, options);
  }

  function disconnected(why, { final = false } = {}) {
    state.ws = null;
    clearInterval(state.pingTimer);
    clearTimeout(state.pongTimer);
    clearTimeout(state.quitTimer);
    state.pingTimer = state.pongTimer = state.quitTimer = null;
    if (state.registered) {
      state.wanted = [...state.joined.values()];
      state.renameIfTaken = true;
    }
    for (const [roomKey, room] of state.joining) {
      if (!state.wanted.some((r) => key(r) === roomKey)) state.wanted.push(room);
    }
    state.registered = false;
    state.joined.clear();
    state.joining.clear();
    state.members.clear();
    state.pendingNames.clear();
    render();
    if (state.quitting) {
      stop("you left the chat", { kind: "info" });
      return;
    }
    if (state.fatal !== null) {
      const detail = `after ${C.errorName(state.fatal.code)}: ${why}; not reconnecting`;
      stop(`disconnected ${detail}`, { detail });
      return;
    }
    if (final) {
      stop(`disconnected: ${why}; not reconnecting`, { detail: `${why}; not reconnecting` });
      return;
    }
    const base = state.retryDelay;
    state.retryDelay = Math.min(base * 2, MAX_RETRY_DELAY);
    const delay = Math.round(base * (0.75 + Math.random() * 0.5));
    state.retryAt = Date.now() + delay;
    state.retryTimer = setTimeout(connect, delay);
    const text = `disconnected: ${why}; reconnecting in ${seconds(delay)}`;
    info(text);
    setPhase("waiting", text);
  }

  // Give up: no more reconnecting until the person asks.
  function stop(why, { kind = "error", detail = why } = {}) {
    clearRetry();
    state.stopped = why;
    if (kind === "error") problem("DISCONNECTED", detail);
    else info(why);
    setPhase("closed", why);
    showLogin(true);
  }

  function clearRetry() {
    clearTimeout(state.retryTimer);
    state.retryTimer = null;
  }

  function seconds(ms) {
    return `${(ms / 1000).toFixed(1)} s`;
  }

  function ping() {
    if (state.ws === null || state.ws.readyState !== WebSocket.OPEN || state.pongTimer !== null) {
      return;
    }
    state.pingToken = (state.pingToken + 1) >>> 0;
    state.pingSentAt = performance.now();
    send({ type: "Ping", token: state.pingToken });
    state.pongTimer = setTimeout(() => {
      state.pongTimer = null;
      drop(`no answer to a ping for ${PONG_TIMEOUT / 1000} s`);
    }, PONG_TIMEOUT);
  }

  // Send one message; on failure say why and return false.
  function send(message) {
    const socket = state.ws;
    if (socket === null || socket.readyState !== WebSocket.OPEN) {
      problem("NOT_CONNECTED", "not connected; the line was not sent");
      return false;
    }
    let payload;
    try {
      payload = C.encode(message);
    } catch (error) {
      problem("USAGE", error.message);
      return false;
    }
    if (payload.length > C.MAX_PAYLOAD_SIZE) {
      problem(
        "TOO_LONG",
        `that message is ${payload.length} bytes; the limit is ${C.MAX_PAYLOAD_SIZE}`,
      );
      return false;
    }
    socket.send(payload);
    return true;
  }

  function receive(data) {
    if (typeof data === "string") {
      problem("PROTOCOL", "the server sent a text message; ignored");
      return;
    }
    if (data.byteLength > C.MAX_PAYLOAD_SIZE) {
      drop(`the server sent ${data.byteLength} bytes, over the ${C.MAX_PAYLOAD_SIZE}-byte limit`, {
        final: true,
      });
      return;
    }
    let message;
    try {
      message = C.decode(data);
    } catch (error) {
      // A WebSocket message is self-contained: one bad payload spoils nothing after it.
      problem("PROTOCOL", `the server sent a malformed message (${error.message}); ignored`);
      return;
    }
    if (!C.isServerMessage(message.type)) {
      problem("PROTOCOL", `the server sent ${message.type}, a client message; ignored`);
      return;
    }
    handle(message);
  }

  function quit(reason) {
    state.quitting = true;
    clearRetry();
    if (state.ws === null) {
      stop("you left the chat", { kind: "info" });
      return;
    }
    if (state.ws.readyState !== WebSocket.OPEN) {
      drop("you left the chat"); // still connecting: nothing to say goodbye on
      return;
    }
    send({ type: "Quit", reason });
    setPhase("closed", "leaving…");
    state.quitTimer = setTimeout(() => drop("the server did not close; closed it"), QUIT_TIMEOUT);
  }

  // -- what the server says --------------------------------------------------------------------

  function handle(m) {
    switch (m.type) {
      case "Welcome":
        welcome(m);
        break;
      case "Error":
        error(m);
        break;
      case "Joined":
        if (same(m.nick, state.me)) {
          state.joined.set(key(m.room), m.room);
          state.joining.delete(key(m.room));
          if (!state.members.has(key(m.room))) state.members.set(key(m.room), new Map());
          if (state.current === null || same(state.current, m.room)) state.current = m.room;
        }
        memberMap(m.room)?.set(key(m.nick), m.nick);
        line("joined", m.room, [nickSpan(m.nick), " joined"], { nick: m.nick });
        break;
      case "Left":
        if (same(m.nick, state.me)) {
          forgetRoom(m.room);
        } else {
          memberMap(m.room)?.delete(key(m.nick));
        }
        line("left", m.room, [nickSpan(m.nick), ` left${because(m.reason)}`], {
          nick: m.nick,
        });
        break;
      case "Quitted":
        memberMap(m.room)?.delete(key(m.nick));
        line("quit", m.room, [nickSpan(m.nick), ` quit${because(m.reason)}`], { nick: m.nick });
        break;
      case "NickChanged": {
        const mine = same(m.old, state.me);
        if (mine) {
          state.me = m.new;
          remember(m.new);
          setPhase("connected", connectedText());
        }
        const members = memberMap(m.room);
        if (members !== null) {
          members.delete(key(m.old));
          members.set(key(m.new), m.new);
        }
        const text = mine
          ? ["you are now known as ", nickSpan(m.new)]
          : [nickSpan(m.old), " is now known as ", nickSpan(m.new)];
        line("nick", m.room, text, { nick: m.new });
        break;
      }
      case "Said":
      case "History":
        say(m);
        break;
      case "Whispered": {
        const mine = same(m.sender, state.me);
        const text = mine
          ? ["→ ", nickSpan(m.to), ": ", textSpan(m.text)]
          : ["← ", nickSpan(m.sender), ": ", textSpan(m.text)];
        line("whisper", "", text, { nick: m.sender, time: m.time_ms });
        break;
      }
      case "Topic":
        state.topics.set(key(m.room), { topic: m.topic, set_by: m.set_by });
        if (m.topic) {
          line("topic", m.room, ["topic: ", textSpan(m.topic), " (set by ", nickSpan(m.set_by), ")"]);
        } else if (m.set_by) {
          line("topic", m.room, [nickSpan(m.set_by), " cleared the topic"]);
        } else {
          line("topic", m.room, ["no topic"]);
        }
        break;
      case "Names": {
        const pending = state.pendingNames.get(key(m.room)) || [];
        pending.push(...m.nicks.split(" ").filter(Boolean));
        state.pendingNames.set(key(m.room), pending);
        break;
      }
      case "NamesEnd": {
        const nicks = state.pendingNames.get(key(m.room)) || [];
        state.pendingNames.delete(key(m.room));
        if (state.joined.has(key(m.room))) {
          state.members.set(key(m.room), new Map(nicks.map((n) => [key(n), n])));
        }
        line("names", m.room, [nicks.length ? `members: ${nicks.join(" ")}` : "nobody is there"]);
        break;
      }
      case "RoomInfo": {
        const join = document.createElement("button");
        join.type = "button";
        join.className = "link";
        join.textContent = m.room;
        join.title = `join ${m.room}`;
        join.addEventListener("click", () => handleLine(`/join ${m.room}`));
        const parts = [join, ` (${m.members})`];
        if (m.topic) parts.push(": ", textSpan(m.topic));
        line("room", m.room, parts);
        break;
      }
      case "RoomListEnd":
        line("rooms", "", [`${m.count} room${m.count === 1 ? "" : "s"}`]);
        break;
      case "ServerPing":
        send({ type: "Pong", token: m.token });
        break;
      case "ServerPong":
        if (m.token === state.pingToken && state.pongTimer !== null) {
          clearTimeout(state.pongTimer);
          state.pongTimer = null;
          state.rtt = Math.round(performance.now() - state.pingSentAt);
          ui.status.title = `round trip ${state.rtt} ms`;
        } else {
          info(`pong ${m.token}`);
        }
        break;
      case "Notice":
        line("notice", "", ["notice: ", textSpan(m.text)]);
        break;
      default:
        problem("PROTOCOL", `unexpected ${m.type}; ignored`);
    }
    if (!WITHOUT_STATE.has(m.type)) render();
  }

  // Messages that change nothing render() shows (say() redraws the tabs for an unread count).
  const WITHOUT_STATE = new Set([
    "Said", "History", "Whispered", "Names", "RoomInfo", "RoomListEnd", "ServerPing",
    "ServerPong", "Notice",
  ]);

  function welcome(m) {
    state.registered = true;
    state.renameIfTaken = false;
    state.me = m.nick;
    state.server = m.server;
    state.retryDelay = FIRST_RETRY_DELAY;
    remember(m.nick);
    setPhase("connected", connectedText());
    ui.nickError.textContent = "";
    info(`you are ${m.nick} on ${m.server}; /help lists the commands`);
    const login = !ui.login.hidden;
    showLogin(false);
    const rooms = state.wanted;
    state.wanted = [];
    for (const room of rooms) join(room);
    if (login || document.activeElement === document.body) ui.messageInput.focus();
  }

  function error(m) {
    const name = C.errorName(m.code);
    const subject = m.subject ? ` ${m.subject}` : "";
    line("error", "", [`${name}${subject}: `, textSpan(m.detail || m.subject)], { code: name });
    if (C.FATAL_ERRORS.has(m.code)) {
      state.fatal = m;
      return;
    }
    if ((name === "NICK_IN_USE" || name === "INVALID_NICK") && !state.registered) {
      const next = (state.me + "_").slice(0, MAX_NICK_LENGTH);
      if (name === "NICK_IN_USE" && state.renameIfTaken && next !== state.me) {
        info(`${state.me} is taken; trying ${next}`);
        state.me = next;
        register();
        return;
      }
      state.renameIfTaken = false;
      setPhase("registering", `nick ${m.subject || state.me} refused: pick another`);
      ui.nickError.textContent = m.detail || `${name} ${m.subject}`;
      showLogin(true);
      ui.nickInput.focus();
      ui.nickInput.select();
    } else if (name === "INVALID_ROOM" || name === "LIMIT_REACHED") {
      state.joining.delete(key(m.subject));
      if (same(state.current, m.subject) && !state.joined.has(key(m.subject))) {
        state.current = lastJoined();
      }
    }
  }

  function say(m) {
    const history = m.type === "History";
    const parts = [nickSpan(m.nick, true), " ", textSpan(m.text)];
    if (history) parts.unshift(hiddenText("earlier: "));
    line(history ? "history" : "said", m.room, parts, { nick: m.nick, time: m.time_ms });
    if (!history && !same(m.room, state.current) && state.joined.has(key(m.room))) {
      state.unread.set(key(m.room), (state.unread.get(key(m.room)) || 0) + 1);
      renderRooms();
    }
  }

  function memberMap(room) {
    return state.joined.has(key(room)) ? state.members.get(key(room)) || null : null;
  }

  function forgetRoom(room) {
    const roomKey = key(room);
    state.joined.delete(roomKey);
    state.members.delete(roomKey);
    state.topics.delete(roomKey);
    state.unread.delete(roomKey);
    if (same(state.current, room)) state.current = lastJoined();
  }

  function lastJoined() {
    const rooms = [...state.joined.values()];
    return rooms.length ? rooms[rooms.length - 1] : null;
  }

  function connectedText() {
    return `connected as ${state.me}` + (state.server ? ` on ${state.server}` : "");
  }

  function remember(nick) {
    try {
      localStorage.setItem(NICK_STORAGE_KEY, nick);
    } catch (error) {
      // storage may be disabled; remembering the nick is a convenience
    }
  }

  // -- what the person types -------------------------------------------------------------------

  // One typed line -> a message to send, {problem}, {info}, or null (the terminal's parse_line).
  function parseLine(text, current) {
    if (!text.trim()) return null;
    if (!text.startsWith("/") || text.startsWith("//")) {
      if (current === null) return { problem: "NO_ROOM", detail: "you are in no room; /join #room first" };
      return { type: "Say", room: current, text: text.startsWith("//") ? text.slice(1) : text };
    }
    const [command, rest] = partition(text.slice(1));
    const args = rest.trim();
    const [first, tailRaw] = partition(args);
    const tail = tailRaw.trim();
    const [room, afterRoom] = first.startsWith("#") ? [first, tail] : [current, args];
    switch (command.toLowerCase()) {
      case "join":
        if (first) return { type: "Join", room: roomName(first) };
        break;
      case "leave":
        if (room !== null) return { type: "Leave", room, reason: afterRoom };
        break;
      case "msg":
        if (first && tail) return { type: "Whisper", to: first, text: tail };
        break;
      case "nick":
        if (first) return { type: "SetNick", nick: first };
        break;
      case "rooms":
        return { type: "ListRooms" };
      case "names":
        if (room !== null) return { type: "ListNames", room };
        break;
      case "topic":
        if (room !== null && afterRoom) return { type: "SetTopic", room, topic: afterRoom };
        break;
      case "quit":
        return { type: "Quit", reason: args };
      case "help":
        return { info: HELP };
      default:
        return { problem: "USAGE", detail: `unknown command /${command}; /help lists the commands` };
    }
    return { problem: "USAGE", detail: USAGE[command.toLowerCase()] };
  }

  function partition(text) {
    const at = text.indexOf(" ");
    return at < 0 ? [text, ""] : [text.slice(0, at), text.slice(at + 1)];
  }

  // Act on one typed line; return false if it could not be sent (keep it in the box).
  function handleLine(text) {
    const action = parseLine(text, state.current);
    if (action === null) return true;
    if (action.problem) {
      problem(action.problem, action.detail);
      return false;
    }
    if (action.info) {
      for (const help of action.info) {
        const [usage, what] = help.split(/ {2,}/);
        const code = document.createElement("code");
        code.textContent = usage;
        line("info", "", [code, ` — ${what}`]).classList.add("line-help");
      }
      return true;
    }
    switch (action.type) {
      case "Quit":
        quit(action.reason);
        return true;
      case "Join":
        state.current = state.joined.get(key(action.room)) || action.room;
        state.unread.delete(key(action.room));
        render();
        if (state.joined.has(key(action.room))) return true; // already there: only switch
        return join(action.room);
      case "SetNick":
        if (!state.registered) {
          state.me = action.nick;
          state.renameIfTaken = false;
          if (state.ws !== null && state.ws.readyState === WebSocket.OPEN) register();
          else connect();
          return true;
        }
        return send(action);
      default:
        return send(action);
    }
  }

  function join(room) {
    if (!send({ type: "Join", room })) return false;
    state.joining.set(key(room), room);
    return true;
  }

  function switchTo(room) {
    state.current = room;
    state.unread.delete(key(room));
    render();
  }

  // -- the log ---------------------------------------------------------------------------------

  function line(kind, room, parts, { nick = null, time = null, code = null } = {}) {
    const item = document.createElement("li");
    item.className = `line line-${kind}`;
    item.dataset.kind = kind;
    item.dataset.room = room;
    if (nick !== null) item.dataset.nick = nick;
    if (code !== null) item.dataset.code = code;
    item.append(timeElement(time, kind === "history"), " ");
    if (room) {
      const badge = document.createElement("span");
      badge.className = "room-badge";
      badge.textContent = room;
      item.append(badge, " ");
    }
    const body = document.createElement("span");
    body.className = "body";
    body.append(...parts);
    item.append(body);
    const log = ui.log;
    const atBottom = log.scrollTop + log.clientHeight >= log.scrollHeight - 24;
    log.append(item);
    while (log.childElementCount > MAX_LOG_LINES) log.firstElementChild.remove();
    if (atBottom) log.scrollTop = log.scrollHeight;
    return item;
  }

  function info(text) {
    line("info", "", [text]);
  }

  function problem(code, detail) {
    line("error", "", [`${code}: `, textSpan(detail)], { code });
  }

  function timeElement(timeMs, withDate) {
    const stamp = document.createElement("time");
    const date = timeMs === null ? new Date() : new Date(Number(timeMs));
    if (Number.isNaN(date.getTime())) {
      stamp.textContent = "--:--";
      return stamp;
    }
    const now = new Date();
    const today = date.toDateString() === now.toDateString();
    const clock = date.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
    stamp.textContent = withDate && !today ? `${date.toLocaleDateString()} ${clock}` : clock;
    stamp.dateTime = date.toISOString();
    stamp.title = date.toLocaleString();
    return stamp;
  }

  function nickSpan(nick, bracketed = false) {
    const span = document.createElement("span");
    span.className = "nick";
    span.textContent = bracketed ? `<${nick}>` : nick;
    span.style.setProperty("--nick-hue", String(hue(nick)));
    if (same(nick, state.me)) span.classList.add("me");
    return span;
  }

  function textSpan(text) {
    const span = document.createElement("span");
    span.className = "text";
    span.textContent = text;
    return span;
  }

  function hiddenText(text) {
    const span = document.createElement("span");
    span.className = "visually-hidden";
    span.textContent = text;
    return span;
  }

  function hue(nick) {
    let h = 0;
    for (const ch of key(nick)) h = (h * 31 + ch.codePointAt(0)) % 360;
    return h;
  }

  function because(reason) {
    return reason ? ` (${reason})` : "";
  }

  // -- rendering the state ---------------------------------------------------------------------

  function setPhase(phase, text) {
    state.phase = phase;
    ui.status.dataset.state = phase;
    ui.status.textContent = text;
    ui.reconnect.hidden = !(phase === "waiting" || phase === "closed");
    ui.reconnect.textContent = phase === "waiting" ? "Reconnect now" : "Connect again";
  }

  function showLogin(show) {
    ui.login.hidden = !show;
    document.body.classList.toggle("logged-in", !show);
    if (show && !ui.nickInput.value) ui.nickInput.value = state.me;
  }

  function render() {
    renderRooms();
    renderMembers();
    const current = state.current;
    ui.currentRoom.textContent = current === null ? "no room" : current;
    const topic = current === null ? undefined : state.topics.get(key(current));
    ui.topic.textContent = topic && topic.topic ? topic.topic : "";
    ui.topic.hidden = !ui.topic.textContent;
    ui.messageLabel.textContent = current === null ? "Message" : `Message to ${current}`;
    ui.messageInput.placeholder =
      current === null ? "Join a room, or type /help" : `Message ${current}, or /help`;
  }

  // The joined rooms, then those being joined (on Join, and while reconnecting) as pending.
  function roomsShown() {
    const rooms = new Map([...state.joined].map(([k, room]) => [k, { room, pending: false }]));
    for (const room of [...state.joining.values(), ...state.wanted]) {
      if (!rooms.has(key(room))) rooms.set(key(room), { room, pending: true });
    }
    return rooms;
  }

  function renderRooms() {
    const items = [];
    for (const [roomKey, { room, pending }] of roomsShown()) {
      const item = document.createElement("li");
      item.dataset.room = room;
      if (pending) {
        item.dataset.pending = "true";
        item.title = `joining ${room}…`;
      }
      const tab = document.createElement("button");
      tab.type = "button";
      tab.className = "room-tab";
      tab.dataset.testid = "room-tab";
      tab.dataset.room = room;
      tab.textContent = room;
      if (same(room, state.current)) tab.setAttribute("aria-current", "true");
      tab.addEventListener("click", () => switchTo(room));
      item.append(tab);
      const unread = state.unread.get(roomKey) || 0;
      if (unread) {
        const badge = document.createElement("span");
        badge.className = "unread";
        badge.append(String(unread), hiddenText(" new"));
        item.append(badge);
      }
      const leave = document.createElement("button");
      leave.type = "button";
      leave.className = "room-leave";
      leave.dataset.testid = "room-leave";
      leave.dataset.room = room;
      leave.textContent = "×";
      leave.title = `leave ${room}`;
      leave.setAttribute("aria-label", `Leave ${room}`);
      leave.addEventListener("click", () => {
        if (!pending) {
          send({ type: "Leave", room, reason: "" });
          return;
        }
        state.wanted = state.wanted.filter((r) => !same(r, room)); // not joined yet: forget it
        state.joining.delete(key(room));
        if (same(state.current, room)) state.current = lastJoined();
        render();
      });
      item.append(leave);
      items.push(item);
    }
    const focused = document.activeElement;
    const focusedRoom = ui.rooms.contains(focused) ? [focused.dataset.room, focused.className] : null;
    ui.rooms.replaceChildren(...items);
    if (focusedRoom !== null) {
      // keep keyboard focus on the same control after the list is rebuilt
      for (const button of ui.rooms.querySelectorAll("button")) {
        if (button.dataset.room === focusedRoom[0] && button.className === focusedRoom[1]) {
          button.focus();
        }
      }
    }
  }

  function renderMembers() {
    const members = state.current === null ? null : state.members.get(key(state.current));
    const nicks = members ? [...members.values()] : [];
    nicks.sort((a, b) => key(a).localeCompare(key(b)));
    const items = nicks.map((nick) => {
      const item = document.createElement("li");
      item.dataset.nick = nick;
      const button = document.createElement("button");
      button.type = "button";
      button.className = "member";
      button.textContent = nick;
      button.title = `whisper to ${nick}`;
      button.style.setProperty("--nick-hue", String(hue(nick)));
      if (same(nick, state.me)) item.classList.add("me");
      button.addEventListener("click", () => {
        ui.messageInput.value = `/msg ${nick} `;
        ui.messageInput.focus();
      });
      item.append(button);
      return item;
    });
    ui.members.replaceChildren(...items);
    ui.memberCount.textContent = String(nicks.length);
  }

  // -- wiring ----------------------------------------------------------------------------------

  ui.nickForm.addEventListener("submit", (event) => {
    event.preventDefault();
    const nick = ui.nickInput.value.trim();
    if (!nick) {
      ui.nickError.textContent = "type a nick first";
      ui.nickInput.focus();
      return;
    }
    ui.nickError.textContent = "";
    const rooms = ui.roomInput.value.split(/[\s,]+/).filter(Boolean).map(roomName);
    for (const room of rooms) {
      if (!state.wanted.some((r) => same(r, room))) state.wanted.push(room);
    }
    if (state.current === null && rooms.length) state.current = rooms[0];
    state.me = nick;
    state.renameIfTaken = false;
    if (state.ws === null) {
      connect();
    } else if (state.ws.readyState === WebSocket.OPEN && !state.registered) {
      register();
    } // else still connecting: Hello goes out with this nick once it opens
  });

  ui.joinForm.addEventListener("submit", (event) => {
    event.preventDefault();
    const room = ui.joinInput.value.trim();
    if (!room) return;
    if (handleLine(`/join ${room}`)) {
      ui.joinInput.value = "";
      ui.messageInput.focus();
    }
  });

  ui.listRooms.addEventListener("click", () => send({ type: "ListRooms" }));

  ui.reconnect.addEventListener("click", () => {
    if (!state.me) {
      showLogin(true);
      ui.nickInput.focus();
      return;
    }
    state.retryDelay = FIRST_RETRY_DELAY;
    connect();
  });

  ui.messageForm.addEventListener("submit", (event) => {
    event.preventDefault();
    const text = ui.messageInput.value;
    if (!text.trim()) return;
    state.history.push(text);
    if (state.history.length > 100) state.history.shift();
    state.historyIndex = state.history.length;
    if (handleLine(text)) ui.messageInput.value = "";
  });

  ui.messageInput.addEventListener("keydown", (event) => {
    if (event.key !== "ArrowUp" && event.key !== "ArrowDown") return;
    if (!state.history.length) return;
    const step = event.key === "ArrowUp" ? -1 : 1;
    const index = Math.min(Math.max(state.historyIndex + step, 0), state.history.length);
    state.historyIndex = index;
    ui.messageInput.value = index < state.history.length ? state.history[index] : "";
    event.preventDefault();
  });

  // Members collapse on narrow screens, open on wide ones.
  const narrow = window.matchMedia("(max-width: 720px)");
  const fitMembers = () => {
    ui.membersDetails.open = !narrow.matches;
  };
  narrow.addEventListener("change", fitMembers);
  fitMembers();

  window.addEventListener("online", () => {
    if (state.phase === "waiting") connect();
  });

  // Leaving the page is a quit, so the rooms are told politely.
  window.addEventListener("pagehide", () => {
    if (state.ws !== null && state.registered) {
      state.quitting = true;
      send({ type: "Quit", reason: "" });
    }
  });

  try {
    ui.nickInput.value = localStorage.getItem(NICK_STORAGE_KEY) || "";
  } catch (error) {
    // no storage: start empty
  }
  if (location.hash.length > 1) ui.roomInput.value = decodeURIComponent(location.hash);
  render();
  ui.nickInput.focus();

  // For tests and the console: the state, and the connection's controls.
  window.ActornetChat = Object.freeze({
    get state() {
      return state;
    },
    connect,
    send,
    handleLine,
    parseLine,
    disconnect(why = "disconnected by the page") {
      drop(why);
    },
  });
})();
