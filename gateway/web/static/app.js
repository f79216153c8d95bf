// The customer page: sign in, plan a trip in a session, pay at the provider, watch the saga live;
// for admins, the operator console.
"use strict";

const CITIES = {
  LIS: "Lisbon", OPO: "Porto", MAD: "Madrid", BCN: "Barcelona", PAR: "Paris",
  LON: "London", ROM: "Rome", BER: "Berlin", AMS: "Amsterdam", NYC: "New York",
};
const STATE_LABELS = {
  STATE_OPEN: "Open", STATE_PAYMENT_PENDING: "Waiting for payment", STATE_CONFIRMING: "Confirming",
  STATE_CONFIRMED: "Confirmed", STATE_CANCELLING: "Cancelling", STATE_CANCELLED: "Cancelled",
  STATE_EXPIRED: "Expired", STATE_NEEDS_ATTENTION: "Needs attention",
};
const FINAL_STATES = new Set(["STATE_CONFIRMED", "STATE_CANCELLED", "STATE_EXPIRED", "STATE_NEEDS_ATTENTION"]);
// The sagas' vocabulary (saga kinds, steps, outcomes) is generated from the saga protos
// (`python -m services.sagas.vocabulary`); the page loads it before its first render.
let sagaVocabulary = { sagaKinds: {}, undoingKinds: [], steps: {}, outcomes: {}, undoingOutcomes: [] };
const vocabularyLoaded = fetch("/web/saga-vocabulary.json", { headers: { Accept: "application/json" } })
  .then((response) => (response.ok ? response.json() : Promise.reject(new Error(`HTTP ${response.status}`))))
  .then((loaded) => { sagaVocabulary = loaded; })
  .catch(() => {});  // without it the timeline shows raw step names and outcomes
// The arbiter's own timeline entries, besides saga steps: holding items and the payment.
const SESSION_STEP_LABELS = { "attach.hotel": "Hotel held", "attach.flights": "Round trip held", payment: "Payment" };
const stepLabel = (step) =>
  (sagaVocabulary.steps[step] && sagaVocabulary.steps[step].label) || SESSION_STEP_LABELS[step] || step;
const sagaTitle = (kind) => sagaVocabulary.sagaKinds[kind] || `${kind} saga`;
// Steps that undo earlier work are tagged as compensations in the timeline. Releasing holds is
// undoing, except in a confirmation going forward, where it only lets go of what was not bought.
function isCompensation(step, undoing) {
  const undoes = sagaVocabulary.steps[step] && sagaVocabulary.steps[step].undoes;
  return undoes === "always" || (undoing && undoes === "when_compensating");
}
const TOKEN_KEY = "travel.token";

const $ = (selector, root = document) => root.querySelector(selector);
const app = { token: sessionStorage.getItem(TOKEN_KEY), me: null, session: null, stream: null, timer: null };
let timelineEvents = [];
let timelineKeys = new Set();

// ---- API -------------------------------------------------------------------------------------

class ApiError extends Error {
  constructor(status, body) {
    super((body && body.message) || `HTTP ${status}`);
    this.status = status;
    this.violations = [];
    for (const detail of (body && body.details) || []) {
      if (String(detail["@type"]).endsWith("google.rpc.BadRequest")) {
        this.violations.push(...(detail.fieldViolations || []));
      }
    }
  }
}

async function api(method, path, body) {
  const headers = { Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (app.token) headers.Authorization = `Bearer ${app.token}`;
  let response;
  try {
    response = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  } catch (error) {
    throw new ApiError(0, { message: "The server cannot be reached. Check your connection and try again." });
  }
  const text = await response.text();
  let parsed = null;
  try { parsed = text ? JSON.parse(text) : {}; } catch (error) { parsed = { message: text }; }
  if (!response.ok) {
    if (response.status === 401 && app.token) signOut("Your sign-in has expired. Please sign in again.");
    throw new ApiError(response.status, parsed);
  }
  return parsed;
}

// ---- formatting --------------------------------------------------------------------------------

function money(value) {
  if (!value || !value.currency) return "—";
  const minor = Number(value.amount || 0);
  try {
    return new Intl.NumberFormat("en-GB", { style: "currency", currency: value.currency }).format(minor / 100);
  } catch (error) {
    return `${(minor / 100).toFixed(2)} ${value.currency}`;
  }
}

const dateTime = (iso) => new Date(iso).toLocaleString("en-GB", { dateStyle: "medium", timeStyle: "short" });
const clock = (iso) => new Date(iso).toLocaleTimeString("en-GB", { hour12: false }) +
  "." + String(new Date(iso).getMilliseconds()).padStart(3, "0");
const day = (iso) => new Date(`${iso}T00:00:00`).toLocaleDateString("en-GB", { day: "numeric", month: "short", year: "numeric" });
const cityName = (code) => (CITIES[code] ? `${CITIES[code]} (${code})` : code);
const stateLabel = (state) => STATE_LABELS[state] || state;
const stateClass = (state) => `badge state-${String(state).replace("STATE_", "").toLowerCase()}`;
const isoDay = (offset) => { const d = new Date(); d.setDate(d.getDate() + offset); return d.toISOString().slice(0, 10); };
const nightsBetween = (a, b) => Math.round((new Date(b) - new Date(a)) / 86400000);

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (name === "class") node.className = value;
    else if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else node.setAttribute(name, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child !== null && child !== undefined && child !== false) node.append(child);
  }
  return node;
}

// ---- errors next to fields ---------------------------------------------------------------------

// "hotel.check_out" -> "checkOut": backends may name a field in proto or JSON spelling, nested or not.
const fieldName = (path) => String(path).split(".").pop().replace(/_([a-z])/g, (_, c) => c.toUpperCase());

function clearErrors(form) {
  for (const node of form.querySelectorAll(".field-error")) node.remove();
  for (const node of form.querySelectorAll("[aria-invalid]")) node.removeAttribute("aria-invalid");
  for (const node of form.querySelectorAll(".form-error")) node.textContent = "";
}

// Violations go under their input; whatever has no input here goes to the form's message line.
// `aliases` renames a field to the input that shows it, or to "" to keep it on the message line.
function showError(form, error, aliases = {}, messageNode = null) {
  const unplaced = [];
  for (const violation of error.violations || []) {
    const field = fieldName(violation.field);
    const name = field in aliases ? aliases[field] : field;
    const input = name ? form.querySelector(`[name="${name}"]`) : null;
    if (input) {
      input.setAttribute("aria-invalid", "true");
      const label = input.closest("label") || input;
      label.append(el("span", { class: "field-error", "data-field": name }, violation.description));
    } else {
      unplaced.push(`${violation.field}: ${violation.description}`);
    }
  }
  const target = messageNode || form.querySelector(".form-error");
  if (target && (unplaced.length || !(error.violations || []).length)) {
    target.textContent = unplaced.length ? unplaced.join("; ") : error.message;
  }
}

function formValues(form) {
  return Object.fromEntries(new FormData(form).entries());
}

async function busy(button, work) {
  button.disabled = true;
  try { return await work(); } finally { button.disabled = false; }
}

// ---- sign in -----------------------------------------------------------------------------------

async function signIn(email, password) {
  const reply = await api("POST", "/v1/auth/token", { email, password });
  app.token = reply.accessToken;
  sessionStorage.setItem(TOKEN_KEY, app.token);
  await loadMe();
}

async function loadMe() {
  const reply = await api("GET", "/v1/customers/me");
  app.me = reply.customer;
  $("#me").textContent = app.me.name || app.me.email;
}

function signOut(message) {
  app.token = null;
  app.me = null;
  sessionStorage.removeItem(TOKEN_KEY);
  stopLive();
  go("#/signin");
  if (message) showBanner(message);
}

function showBanner(message) {
  const banner = $("#banner");
  banner.textContent = message;
  banner.hidden = !message;
}

$("#login-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = event.currentTarget;
  clearErrors(form);
  const { email, password } = formValues(form);
  try {
    await busy(form.querySelector("button"), () => signIn(email, password));
    afterSignIn();
  } catch (error) { showError(form, error); }
});

$("#register-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = event.currentTarget;
  clearErrors(form);
  const values = formValues(form);
  try {
    await busy(form.querySelector("button"), async () => {
      await api("POST", "/v1/customers", values);
      await signIn(values.email, values.password);
    });
    afterSignIn();
  } catch (error) { showError(form, error); }
});

// Back from the payment page with an expired sign-in: continue to the session that was asked for.
function afterSignIn() {
  for (const form of [$("#login-form"), $("#register-form")]) form.reset();
  showBanner("");
  if (/^#\/(sessions\/|ops$)/.test(location.hash)) route();
  else go("#/trips");
}

function go(hash) {
  if (location.hash === hash) route();
  else location.hash = hash;
}

$("#sign-out").addEventListener("click", () => signOut());

// ---- my trips ----------------------------------------------------------------------------------

function itemSummary(session) {
  const parts = [];
  for (const item of session.items || []) {
    if (item.hotel) parts.push(`${item.hotel.hotelName}, ${cityName(item.hotel.city)}`);
    if (item.flights && item.flights.outbound) {
      parts.push(`${item.flights.outbound.origin} ⇄ ${item.flights.outbound.destination}`);
    }
  }
  return parts.join(" · ") || "Nothing held";
}

async function showTrips() {
  $("#trips-error").textContent = "";
  const list = $("#trip-list");
  try {
    const reply = await api("GET", "/v1/sessions?pageSize=50");
    const sessions = reply.sessions || [];
    list.replaceChildren(...sessions.map((session) => el("li", { class: "trip", "data-session": session.id },
      el("a", { href: `#/sessions/${session.id}` },
        el("span", { class: "trip-what" }, itemSummary(session)),
        el("span", { class: "trip-when muted small" }, `Started ${dateTime(session.createTime)}`)),
      el("span", { class: "trip-total" }, money(session.total)),
      el("span", { class: stateClass(session.state) }, stateLabel(session.state)),
      session.reason ? el("span", { class: "reason small" }, reasonText(session.reason)) : null)));
    $("#no-trips").hidden = sessions.length > 0;
  } catch (error) { $("#trips-error").textContent = error.message; }
}

$("#new-trip").addEventListener("click", async (event) => {
  try {
    const reply = await busy(event.currentTarget, () => api("POST", "/v1/sessions", {}));
    go(`#/sessions/${reply.session.id}`);
  } catch (error) { $("#trips-error").textContent = error.message; }
});

// ---- one session -------------------------------------------------------------------------------

const REASONS = {
  ALL_CONFIRMED: "Every reservation is confirmed and the payment captured.",
  PAYMENT_DECLINED: "The payment was declined, so every hold was released.",
  PAYMENT_MISMATCH: "The payment did not match the trip's total, so it was refunded and every hold was released.",
  EXPIRED: "The session's time ran out before payment, so every hold was released.",
  CUSTOMER_CANCELLED: "You cancelled this trip.",
};
const reasonText = (reason) => REASONS[reason] || reason.replace(/_/g, " ").toLowerCase();

function renderSession(session) {
  app.session = session;
  $("#session-id").textContent = session.id;
  const badge = $("#session-state");
  badge.className = stateClass(session.state);
  badge.textContent = stateLabel(session.state);
  const reason = $("#session-reason");
  reason.hidden = !session.reason;
  reason.textContent = session.reason ? reasonText(session.reason) : "";
  $("#items").replaceChildren(...renderItems(session));
  $("#total").textContent = money(session.total);
  const open = session.state === "STATE_OPEN";
  const pending = session.state === "STATE_PAYMENT_PENDING";
  $("#planner").hidden = !open;
  $("#checkout").hidden = !open;
  $("#checkout").disabled = !(session.items || []).length;
  $("#cancel-session").hidden = !(open || pending);
  const payUrl = sessionStorage.getItem(`travel.payUrl.${session.id}`);
  $("#resume-payment").hidden = !(pending && payUrl);
  if (payUrl) $("#resume-payment").href = payUrl;
  tickCountdown();
}

function renderItems(session) {
  const items = [];
  for (const item of session.items || []) {
    if (item.hotel) {
      const h = item.hotel;
      items.push(el("li", { class: "item" },
        el("span", { class: "item-kind" }, "Hotel"),
        el("span", { class: "item-what" }, el("strong", {}, h.hotelName), ` · ${cityName(h.city)}`,
          el("br"), `${day(h.checkIn)} → ${day(h.checkOut)} · ${h.guests} guest${h.guests === 1 ? "" : "s"}`),
        el("span", { class: "item-price" }, money(h.price))));
    }
    if (item.flights) {
      const f = item.flights;
      for (const [label, leg] of [["Outbound", f.outbound], ["Return", f.returnLeg]]) {
        if (!leg) continue;
        items.push(el("li", { class: "item" },
          el("span", { class: "item-kind" }, label),
          el("span", { class: "item-what" }, el("strong", {}, leg.number), ` · ${leg.origin} → ${leg.destination}`,
            el("br"), `${dateTime(leg.departure)} · ${f.passengers} passenger${f.passengers === 1 ? "" : "s"}`),
          el("span", { class: "item-price" }, money(leg.price))));
      }
    }
  }
  if (!items.length) items.push(el("li", { class: "item muted" }, "Nothing held yet: search below and hold a hotel and a round trip."));
  return items;
}

function tickCountdown() {
  const node = $("#countdown");
  const session = app.session;
  const counting = session && (session.state === "STATE_OPEN" || session.state === "STATE_PAYMENT_PENDING");
  node.hidden = !counting;
  if (!counting) {
    // A session never counts down again once past payment: the clock stops with it.
    if (app.timer) clearInterval(app.timer);
    app.timer = null;
    return;
  }
  const left = Math.max(0, Math.floor((new Date(session.expiresAt) - Date.now()) / 1000));
  const minutes = Math.floor(left / 60);
  const seconds = String(left % 60).padStart(2, "0");
  node.textContent = left > 0
    ? `${minutes}:${seconds} left to pay before your holds are released`
    : "Time is up: your holds are being released.";
  node.classList.toggle("urgent", left < 60);
}

async function showSession(sessionId) {
  stopLive();
  resetTimeline();
  $("#session-error").textContent = "";
  for (const form of [$("#hotel-form"), $("#flight-form")]) clearErrors(form);
  try {
    const reply = await api("GET", `/v1/sessions/${encodeURIComponent(sessionId)}`);
    renderSession(reply.session);
  } catch (error) {
    $("#session-error").textContent = error.message;
    return;
  }
  app.timer = setInterval(tickCountdown, 1000);
  startLive(sessionId);
}

$("#checkout").addEventListener("click", async (event) => {
  const session = app.session;
  $("#session-error").textContent = "";
  try {
    const returnUrl = `${location.origin}${location.pathname}#/sessions/${session.id}`;
    const reply = await busy(event.currentTarget, () =>
      api("POST", `/v1/sessions/${session.id}/checkout`, { returnUrl }));
    sessionStorage.setItem(`travel.payUrl.${session.id}`, reply.payment.payUrl);
    location.assign(reply.payment.payUrl);
  } catch (error) { showError($("#summary"), error, {}, $("#session-error")); }
});

$("#cancel-session").addEventListener("click", async (event) => {
  if (!confirm("Cancel this trip and release everything it holds?")) return;
  try {
    const reply = await busy(event.currentTarget, () => api("POST", `/v1/sessions/${app.session.id}:cancel`, {}));
    renderSession(reply.session);
  } catch (error) { $("#session-error").textContent = error.message; }
});

// ---- planner: search and hold ------------------------------------------------------------------

function fillCities() {
  for (const select of document.querySelectorAll(".city-select")) {
    select.replaceChildren(...Object.keys(CITIES).map((code) => el("option", { value: code }, cityName(code))));
  }
  $("#hotel-form [name=city]").value = "LIS";
  $("#flight-form [name=origin]").value = "LIS";
  $("#flight-form [name=destination]").value = "MAD";
  for (const [selector, offset] of [["#hotel-form [name=checkIn]", 10], ["#hotel-form [name=checkOut]", 13],
    ["#flight-form [name=departDate]", 10], ["#flight-form [name=returnDate]", 13]]) {
    $(selector).value = isoDay(offset);
  }
}

$("#hotel-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = event.currentTarget;
  clearErrors(form);
  const query = formValues(form);
  const results = $("#hotel-results");
  try {
    const reply = await busy(form.querySelector("button[type=submit]"), () =>
      api("GET", `/v1/hotels?${new URLSearchParams(query)}`));
    const hotels = reply.hotels || [];
    const nights = nightsBetween(query.checkIn, query.checkOut);
    const rooms = Math.ceil(Number(query.guests) / 2);
    results.replaceChildren(...hotels.map((hotel) => el("li", { class: "result", "data-hotel": hotel.id },
      el("span", { class: "result-what" }, el("strong", {}, hotel.name), " ",
        el("span", { class: "stars", "aria-label": `${hotel.stars} stars` }, "★".repeat(hotel.stars)),
        el("br"), el("span", { class: "muted small" }, `${hotel.available} rooms left`)),
      el("span", { class: "result-price" }, money(hotel.nightlyPrice), el("span", { class: "muted small" }, " / room / night"),
        el("br"), el("span", { class: "muted small" },
          `${money({ amount: Number(hotel.nightlyPrice.amount) * nights * rooms, currency: hotel.nightlyPrice.currency })} for ${nights} night${nights === 1 ? "" : "s"}`)),
      el("button", { type: "button", disabled: hotel.available < rooms,
        onclick: (click) => holdHotel(click.currentTarget, form, hotel, query) }, "Hold"))));
    if (!hotels.length) results.replaceChildren(el("li", { class: "muted" }, "No hotels found for this search."));
  } catch (error) { results.replaceChildren(); showError(form, error); }
});

async function holdHotel(button, form, hotel, query) {
  clearErrors(form);
  const body = { hotelId: hotel.id, checkIn: query.checkIn, checkOut: query.checkOut, guests: Number(query.guests) };
  try {
    const reply = await busy(button, () => api("POST", `/v1/sessions/${app.session.id}/hotel`, body));
    renderSession(reply.session);
  } catch (error) { showError(form, error); }
}

function flightChoice(flight, name) {
  return el("li", { class: "result" },
    el("label", { class: "choice" },
      el("input", { type: "radio", name, value: flight.id, disabled: flight.seatsLeft < 1 }),
      el("span", { class: "result-what" }, el("strong", {}, flight.number), ` · ${flight.origin} → ${flight.destination}`,
        el("br"), el("span", { class: "muted small" }, `${dateTime(flight.departure)} · ${flight.seatsLeft} seats left`)),
      el("span", { class: "result-price" }, money(flight.price), el("span", { class: "muted small" }, " / passenger"))));
}

$("#flight-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = event.currentTarget;
  clearErrors(form);
  const q = formValues(form);
  try {
    const [outbound, back] = await busy(form.querySelector("button[type=submit]"), () => Promise.all([
      api("GET", `/v1/flights?${new URLSearchParams({ origin: q.origin, destination: q.destination, date: q.departDate })}`),
      api("GET", `/v1/flights?${new URLSearchParams({ origin: q.destination, destination: q.origin, date: q.returnDate })}`),
    ]));
    $("#outbound-results").replaceChildren(...(outbound.flights || []).map((f) => flightChoice(f, "outboundFlightId")));
    $("#return-results").replaceChildren(...(back.flights || []).map((f) => flightChoice(f, "returnFlightId")));
    for (const list of [$("#outbound-results"), $("#return-results")]) {
      const first = list.querySelector("input:not([disabled])");
      if (first) first.checked = true;
      else list.replaceChildren(el("li", { class: "muted" }, "No flights on this day."));
    }
    $("#flight-results").hidden = false;
  } catch (error) {
    $("#flight-results").hidden = true;
    // A search names its fields origin/destination/date; the date of each leg has its own input.
    showError(form, error, { date: "departDate" });
  }
});

$("#hold-flights").addEventListener("click", async (event) => {
  const form = $("#flight-form");
  clearErrors(form);
  const values = formValues(form);
  const body = {
    outboundFlightId: values.outboundFlightId || "",
    returnFlightId: values.returnFlightId || "",
    passengers: Number(values.passengers),
  };
  try {
    const reply = await busy(event.currentTarget, () => api("POST", `/v1/sessions/${app.session.id}/flights`, body));
    renderSession(reply.session);
  } catch (error) {
    // Flight ids are chosen in the result lists, so their violations read best beside the hold button.
    showError(form, error, { outboundFlightId: "", returnFlightId: "" },
      $("#flight-hold-error"));
  }
});

// ---- live saga timeline ------------------------------------------------------------------------

const eventKey = (e) => [e.time, e.sagaId, e.step, e.outcome, e.attempt, e.detail].join("|");

function resetTimeline() {
  timelineEvents = [];
  timelineKeys = new Set();
  $("#timeline").replaceChildren();
  $("#timeline-empty").hidden = false;
}

function addEvent(event) {
  const key = eventKey(event);
  if (timelineKeys.has(key)) return;  // a reconnected stream replays what was already shown
  timelineKeys.add(key);
  timelineEvents.push(event);
  timelineEvents.sort((a, b) => (a.time < b.time ? -1 : a.time > b.time ? 1 : 0));
  renderTimeline();
}

// Outcomes of the session's own entries: an item held (DONE), the payment, the states.
const SESSION_OUTCOME_TONES = {
  DONE: "ok", SUCCEEDED: "ok", CONFIRMED: "ok",
  OPEN: "info", PAYMENT_PENDING: "info", CONFIRMING: "info", CANCELLING: "info",
  DECLINED: "bad", MISMATCHED: "bad", REFUSED: "bad", CANCELLED: "bad", EXPIRED: "bad", NEEDS_ATTENTION: "bad",
};

function outcomeClass(outcome) {
  const o = String(outcome).toUpperCase();
  return sagaVocabulary.outcomes[o] || SESSION_OUTCOME_TONES[o] || "info";
}

function outcomeBadge(outcome) {
  return el("span", { class: `outcome ${outcomeClass(outcome)}` }, String(outcome).replace(/_/g, " "));
}

// Session events stand alone; each saga becomes one block, placed where its first event happened,
// with one row per step listing every attempt of that step.
function renderTimeline() {
  const entries = [];
  const sagas = new Map();
  for (const event of timelineEvents) {
    if (!event.sagaId) { entries.push({ event }); continue; }
    let saga = sagas.get(event.sagaId);
    if (!saga) {
      saga = { id: event.sagaId, kind: event.kind, steps: new Map(), done: null };
      sagas.set(event.sagaId, saga);
      entries.push({ saga });
    }
    if (event.step === event.kind) { saga.done = event; continue; }  // the saga's own start/end record
    if (!saga.steps.has(event.step)) saga.steps.set(event.step, []);
    saga.steps.get(event.step).push(event);
  }
  $("#timeline").replaceChildren(...entries.map((entry) => (entry.saga ? sagaBlock(entry.saga) : sessionEntry(entry.event))));
  $("#timeline-empty").hidden = timelineEvents.length > 0;
}

function sessionEntry(event) {
  const isState = event.step === "state";
  const title = isState ? `Trip ${stateLabel(`STATE_${event.outcome}`).toLowerCase()}` : stepLabel(event.step);
  return el("li", { class: `tl-entry ${isState ? "tl-state" : ""}`, "data-step": event.step, "data-outcome": event.outcome },
    el("span", { class: `dot ${outcomeClass(event.outcome)}` }),
    el("div", { class: "tl-body" },
      el("div", { class: "tl-title" }, el("strong", {}, title), " ", outcomeBadge(event.outcome)),
      el("div", { class: "muted small" }, clock(event.time), event.detail ? ` · ${event.detail}` : "")));
}

function sagaBlock(saga) {
  const compensating = sagaVocabulary.undoingKinds.includes(saga.kind);
  const undoing = compensating || [...saga.steps.values()].some((events) =>
    events.some((e) => sagaVocabulary.undoingOutcomes.includes(e.outcome)));
  const steps = [...saga.steps.entries()].map(([step, events]) => {
    const last = events[events.length - 1];
    const attempts = events.filter((e) => e.outcome !== "STARTED").length;
    return el("li", { class: "tl-step", "data-step": step, "data-outcome": last.outcome },
      el("div", { class: "tl-title" },
        isCompensation(step, undoing) ? el("span", { class: "tag compensation" }, "compensation") : null,
        el("strong", {}, stepLabel(step)), " ", el("code", { class: "small" }, step), " ", outcomeBadge(last.outcome),
        attempts > 1 ? el("span", { class: "muted small" }, ` ${attempts} attempts`) : null),
      el("ol", { class: "attempts" }, ...events.map((e) => el("li", { "data-outcome": e.outcome },
        el("span", { class: "muted" }, clock(e.time)), " ", outcomeBadge(e.outcome),
        e.attempt ? ` attempt ${e.attempt}` : "", e.detail ? el("span", { class: "detail" }, ` ${e.detail}`) : ""))));
  });
  return el("li", { class: `tl-entry tl-saga ${compensating ? "compensating" : ""}`, "data-saga": saga.id },
    el("span", { class: `dot ${saga.done ? outcomeClass(saga.done.outcome) : "info"}` }),
    el("div", { class: "tl-body" },
      el("div", { class: "tl-title" }, el("strong", {}, sagaTitle(saga.kind)), " ",
        saga.done ? outcomeBadge(saga.done.outcome) : el("span", { class: "outcome info" }, "running")),
      el("ol", { class: "steps" }, ...steps)));
}

function setLive(text, cls) {
  const node = $("#live");
  node.textContent = text;
  node.className = `live ${cls || ""}`;
}

function startLive(sessionId) {
  // EventSource cannot send headers, hence the token in the query (the gateway accepts both).
  const url = `/v1/sessions/${encodeURIComponent(sessionId)}/events:stream?access_token=${encodeURIComponent(app.token)}`;
  const stream = new EventSource(url);
  app.stream = stream;
  setLive("connecting…");
  stream.onopen = () => setLive("live", "on");
  stream.addEventListener("saga", (message) => addEvent(JSON.parse(message.data)));
  stream.addEventListener("session", (message) => renderSession(JSON.parse(message.data)));
  stream.addEventListener("end", () => { stopLive(); setLive("finished", "done"); });
  stream.addEventListener("problem", (message) => {
    stopLive();
    setLive("stopped", "off");
    $("#session-error").textContent = JSON.parse(message.data).message;
  });
  stream.onerror = () => {
    // The browser retries by itself while readyState is CONNECTING; CLOSED means the server refused.
    if (stream.readyState === EventSource.CLOSED) { setLive("stopped", "off"); app.stream = null; }
    else setLive("reconnecting…", "off");
  };
}

function stopLive() {
  if (app.stream) app.stream.close();
  app.stream = null;
  if (app.timer) clearInterval(app.timer);
  app.timer = null;
}

// ---- operator console (admins) -----------------------------------------------------------------

// The roles the token carries decide only what the page offers: every admin route checks the
// role again at the service, so a changed token gets a 403, not a console.
function tokenRoles() {
  try {
    const payload = app.token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
    return JSON.parse(atob(payload)).roles || [];
  } catch (error) { return []; }
}
const isAdmin = () => Boolean(app.token) && tokenRoles().includes("admin");
const ops = { receivedAt: 0, opened: false };

function duration(seconds) {
  const s = Math.max(0, Math.floor(seconds));
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${String(s % 60).padStart(2, "0")} s`;
  return `${Math.floor(s / 3600)} h ${String(Math.floor((s % 3600) / 60)).padStart(2, "0")} min`;
}

function opsDenied(message) {
  stopLive();
  $("#ops-console").hidden = true;
  const denied = $("#ops-denied");
  denied.textContent = message;
  denied.hidden = false;
  setOpsLive("", "off");
}

function setOpsLive(text, cls) {
  const node = $("#ops-live");
  node.textContent = text;
  node.className = `live ${cls || ""}`;
}

function showOps() {
  stopLive();
  $("#ops-denied").hidden = true;
  if (!isAdmin()) {
    opsDenied("Not allowed: the operator console is for admins only.");
    return;
  }
  $("#ops-console").hidden = false;
  ops.opened = false;
  const stream = new EventSource(`/v1/operations/overview:stream?access_token=${encodeURIComponent(app.token)}`);
  app.stream = stream;
  setOpsLive("connecting…");
  stream.onopen = () => { ops.opened = true; setOpsLive("live", "on"); };
  stream.addEventListener("overview", (message) => renderOverview(JSON.parse(message.data)));
  stream.addEventListener("problem", (message) => opsDenied(JSON.parse(message.data).message));
  stream.onerror = async () => {
    if (stream.readyState !== EventSource.CLOSED) { setOpsLive("reconnecting…", "off"); return; }
    app.stream = null;
    // EventSource hides the refusal's status: ask once over REST to say why.
    try {
      await api("GET", "/v1/operations/overview");
      setOpsLive("stopped", "off");
    } catch (error) {
      opsDenied(error.status === 403 ? "Not allowed: the operator console is for admins only." : error.message);
    }
  };
  // Ages grow between frames: a local tick redraws them, the server is not asked.
  app.timer = setInterval(tickAges, 1000);
}

function tickAges() {
  const elapsed = (Date.now() - ops.receivedAt) / 1000;
  for (const cell of document.querySelectorAll("#ops-sagas [data-age]")) {
    cell.textContent = duration(Number(cell.dataset.age) + elapsed);
  }
}

function renderOverview(overview) {
  ops.receivedAt = Date.now();
  $("#ops-counts").replaceChildren(...(overview.counts || []).map((c) => el("li", { "data-state": c.state },
    el("span", { class: stateClass(c.state) }, stateLabel(c.state)), el("span", { class: "count" }, String(c.count)))));

  const attention = overview.attention || [];
  $("#ops-attention-empty").hidden = attention.length > 0;
  $("#ops-attention").replaceChildren(...attention.map(attentionEntry));

  const sagas = overview.sagas || [];
  $("#ops-sagas-empty").hidden = sagas.length > 0;
  $("#ops-sagas").replaceChildren(...sagas.map((saga) => el("tr", { "data-saga": saga.sagaId },
    el("td", {}, el("strong", {}, sagaTitle(saga.kind)), el("br"),
      el("code", { class: "small" }, saga.sessionId)),
    el("td", {}, stepLabel(saga.currentStep), el("br"),
      el("span", { class: "muted small" }, `${saga.lastEvent.replace(/_/g, " ")}${saga.attempt ? `, attempt ${saga.attempt}` : ""}`)),
    el("td", { class: "number", "data-age": String(parseFloat(saga.age) || 0) }, duration(parseFloat(saga.age) || 0)),
    el("td", {}, saga.stuck ? el("span", { class: "stuck" }, "stuck") : "—"))));

  const lag = overview.lag || [];
  $("#ops-lag-empty").hidden = lag.length > 0;
  $("#ops-lag").replaceChildren(...lag.map((p) => el("tr", { "data-participant": p.participant },
    el("td", {}, p.participant),
    ...[p.lag, p.pending, p.delayedRetries, p.stuckEntries, p.consumers].map((n) => el("td", { class: "number" }, String(n))))));

  // Replays and discards, from this console and the travel-ops CLI: who, when, why.
  const actions = overview.recentActions || [];
  $("#ops-actions-empty").hidden = actions.length > 0;
  $("#ops-actions").replaceChildren(...actions.map((a) => el("tr", { "data-action": a.actionId, "data-entry": a.entryId },
    el("td", {}, dateTime(a.actionTime)),
    el("td", {}, a.action === "discard" ? "Discarded" : "Replayed"),
    el("td", {}, a.operator, el("br"), el("span", { class: "muted small" }, `via ${a.via}`)),
    el("td", {}, stepLabel(a.step), el("br"), el("code", { class: "small" }, a.sessionId)),
    el("td", { class: "small" }, a.action === "discard" ? a.reason : `sent as ${a.replayedEntryId}`))));
}

function attentionEntry(item) {
  const session = item.session;
  const letters = item.deadLetters || [];
  return el("li", { "data-session": session.id },
    el("div", {}, el("span", { class: stateClass(session.state) }, stateLabel(session.state)), " ",
      el("code", { class: "small" }, session.id)),
    el("p", { class: "muted small" }, `Customer ${session.customerId} · since ${dateTime(session.updateTime)}`),
    letters.length ? null : el("p", { class: "muted small" }, "Its dead letter is not in the stream (replayed or discarded: see Operator actions)."),
    ...letters.map((letter) => el("div", { class: "dead-letter", "data-entry": letter.entryId },
      el("div", {}, el("strong", {}, stepLabel(letter.step)), ` at ${letter.participant}, `,
        `given up ${dateTime(letter.deadTime)}`),
      el("div", { class: "error-text" }, letter.error),
      el("button", { type: "button", class: "primary", disabled: !letter.replayable,
        onclick: (event) => replay(event.currentTarget, letter) }, "Replay"))));
}

async function replay(button, letter) {
  $("#ops-replay-error").textContent = "";
  try {
    await busy(button, () => api("POST", `/v1/operations/dead-letters/${encodeURIComponent(letter.entryId)}:replay`, {}));
    button.disabled = true;
    $("#ops-replayed").textContent = `Replayed ${stepLabel(letter.step)} of session ${letter.sessionId}.`;
  } catch (error) { $("#ops-replay-error").textContent = error.message; }
}

$("#ops-search").addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = event.currentTarget;
  clearErrors(form);
  const query = formValues(form).query.trim();
  const aliases = { email: "query", sessionId: "query", customerId: "query" };
  try {
    const sessions = await busy(form.querySelector("button"), async () => {
      // Emails belong to the customers service: it turns one into the id the sessions know.
      if (query.includes("@")) {
        const found = await api("GET", `/v1/customers:find?email=${encodeURIComponent(query)}`);
        return (await api("GET", `/v1/operations/customers/${encodeURIComponent(found.customer.id)}/sessions`)).sessions || [];
      }
      return [(await api("GET", `/v1/operations/sessions/${encodeURIComponent(query)}`)).session];
    });
    $("#ops-found").replaceChildren(...sessions.map((session) => el("li", { class: "trip", "data-session": session.id },
      el("span", { class: "trip-what" }, el("code", { class: "small" }, session.id), el("br"),
        el("span", { class: "muted small" }, `${itemSummary(session)} · started ${dateTime(session.createTime)}`)),
      el("span", { class: "trip-total" }, money(session.total)),
      el("span", { class: stateClass(session.state) }, stateLabel(session.state)))));
    if (!sessions.length) $("#ops-found").replaceChildren(el("li", { class: "muted" }, "This customer has no sessions."));
  } catch (error) {
    $("#ops-found").replaceChildren();
    showError(form, error, aliases);
  }
});

// ---- routing -----------------------------------------------------------------------------------

function showView(id) {
  for (const view of document.querySelectorAll(".view")) view.hidden = view.id !== id;
  $("#nav").hidden = !app.token;
  $("#ops-link").hidden = !isAdmin();
}

async function route() {
  const hash = location.hash || "#/trips";
  if (!app.token) {
    stopLive();
    showView("view-auth");
    return;
  }
  if (!app.me) {
    try { await loadMe(); } catch (error) { return; }
  }
  const match = hash.match(/^#\/sessions\/([^/?#]+)$/);
  if (hash === "#/ops") {
    showView("view-ops");
    showOps();
  } else if (match) {
    showView("view-session");
    await showSession(decodeURIComponent(match[1]));
  } else {
    stopLive();
    showView("view-trips");
    await showTrips();
  }
}

window.addEventListener("hashchange", route);
fillCities();
vocabularyLoaded.then(route);
