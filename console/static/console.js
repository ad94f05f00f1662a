"use strict";
// The analysts' console: one page, six views (#/ leads, #/lead/<id>, #/schemes, #/scheme/<id>,
// #/watchlist, #/health).
// Data comes from /console/api/*; the open view is polled every 2 s and redrawn only when the
// server's token says something changed. Text from the server is put in with textContent.
// A redraw never takes what a user is doing from under their hands: a status form they have
// touched stays as it is (the rest of the lead's page is redrawn around it), and the filters
// stay while one of them is in use. The form remembers the version of the lead's status it
// was drawn from; the server refuses it if another analyst changed the lead since.
(function () {
  const POLL_MS = 2000;
  const TEXT = {
    zh: {
      title: "非法集资监测预警", nav_leads: "线索", nav_watchlist: "负面清单",
      nav_health: "运行状态", sign_out: "退出", switch: "English",
      all: "全部", county: "县区", sector: "行业", severity: "线索等级", status: "状态",
      leads_count: "共 {n} 条线索", leads_capped: "（显示最新 {n} 条）",
      no_leads: "暂无线索。新线索出现时会自动显示，无需刷新。",
      loading: "正在读取线索主题……", last_evidence: "最近证据", account: "账户",
      customer: "客户", department: "牵头部门", raised: "集资金额（元）", participants: "人数",
      score: "得分", listed: "已列入负面清单", lead: "线索", back: "← 返回线索列表",
      summary: "概况", bank: "银行", region: "地区代码", category: "监测类别",
      routed_to: "推送部门", threshold: "阈值", model: "模型版本", revision: "修订",
      first_evidence: "首次证据", first_emitted: "首次发布", flags: "标记",
      cross_province: "跨省重大", cross_prefecture: "跨州（市）",
      reasons: "预警原因",
      evidence: "证据交易", watchlist_matches: "涉及负面清单主体",
      flows: "账户资金流入流出（近 30 日，北京时间）", inflow: "流入", outflow: "流出",
      flows_other_worker:
        "该账户的状态由另一个工作进程持有（按账户分区）：请在持有该分区的工作进程的控制台查看资金走势。",
      flows_none: "暂无该账户的日度数据。", reports: "报告数",
      history: "状态记录", no_history: "尚无状态变更（新线索）。", when: "时间", by: "操作人",
      note: "说明", outcome: "处理结果", change: "变更状态", new_status: "新状态",
      unchanged: "（不变）", list_account: "核实后将该账户列入负面清单",
      already_listed: "该账户已在负面清单上：{source}，{by}，{at}", save: "提交",
      saved: "已保存。", not_found: "没有这条线索，或您的部门无权查看。",
      entity: "主体", entity_type: "类型", source: "来源", reason: "原因",
      added_by: "列入人", added_at: "列入时间", no_entries: "负面清单为空。",
      health_note: "以下数字为本工作进程的统计。", no_model: "尚无模型：请发布模型。",
      model_loaded: "启用时间", reports_accepted: "已接收报告", reports_rejected: "拒收报告",
      reports_duplicate: "重复报告", consumer_lag: "消费延迟（条）",
      accounts_tracked: "本进程持有账户数", leads_emitted: "已发布线索修订",
      casework: "线索/状态/清单主题", caught_up: "已读到最新", catching_up: "读取中",
      partition: "分区", lag: "延迟", models_refused: "被拒绝的模型",
      session_ends: "会话到期", error: "出错了：", list_separator: "、",
      nav_schemes: "案件线索", schemes_count: "共 {n} 条案件线索", schemes_capped: "（显示最新 {n} 条）",
      no_schemes: "暂无案件线索。由资金链路或同一主体关联起来的线索出现时会自动显示。",
      scheme: "案件线索", back_schemes: "← 返回案件线索列表", banks: "银行", counties: "县区",
      accounts: "账户数", last_activity: "最近活动", first_activity: "首次活动", updated: "更新时间",
      provinces: "涉及省份（代码）", main_collector: "主要归集账户", members: "涉案账户",
      role: "角色", hop: "跳数", kind: "来源", kind_scored: "评分", kind_linked: "资金关联",
      leads: "线索", money_flow: "资金流向图", scheme_flows: "资金往来", from: "转出账户",
      to: "转入账户", direction: "方向", amount: "金额（元）", transfers: "笔数",
      first_tx: "首笔", last_tx: "末笔",
      no_flows: "这些账户之间未追踪到资金往来（因同一主体关联）。",
      flow_image: "案件线索 {id} 的资金流向图",
      lead_scheme: "所属案件线索", in_scheme: "该线索属于案件线索", as_role: "角色：{role}",
      scheme_hidden: "该线索属于另一部门牵头的案件线索（牵头部门：{department}），您的部门无权查看。",
      trail: "资金链路", source_lead: "来源线索", source_account: "来源账户",
      path: "链路（自评分线索账户起）", not_yours: "您的部门无权查看该线索",
      lead_kind: "线索类型", lead_scored: "评分线索", lead_linked: "资金关联线索（第 {hop} 跳）",
      scheme_not_found: "没有这条案件线索，或您的部门无权查看。",
      flows_unreadable: "该账户的状态数据无法读取（已记入工作进程日志）。",
      network_error: "无法连接工作进程，请检查网络后重试。",
      http_error: "请求失败（{status}）。",
      saving: "正在保存……",
    },
    en: {
      title: "Illegal fundraising monitoring", nav_leads: "Leads", nav_watchlist: "Negative list",
      nav_health: "Health", sign_out: "Sign out", switch: "中文",
      all: "all", county: "County", sector: "Sector", severity: "Severity", status: "Status",
      leads_count: "{n} leads", leads_capped: " (newest {n} shown)",
      no_leads: "No leads yet. New leads appear here without reloading.",
      loading: "Reading the leads topic…", last_evidence: "Last evidence", account: "Account",
      customer: "Customer", department: "Lead department", raised: "Raised (CNY)",
      participants: "Participants", score: "Score", listed: "on the negative list",
      lead: "Lead", back: "← back to the leads", summary: "Summary", bank: "Bank",
      region: "Region code", category: "Plan category", routed_to: "Routed to",
      threshold: "threshold", model: "Model version", revision: "Revision",
      first_evidence: "First evidence", first_emitted: "First published", flags: "Flags",
      cross_province: "cross-province major", cross_prefecture: "cross-prefecture",
      reasons: "Reasons",
      evidence: "Evidence transactions", watchlist_matches: "Negative-list entities involved",
      flows: "Money in and out of the account (last 30 days, Beijing time)", inflow: "in",
      outflow: "out",
      flows_other_worker:
        "This account's state is held by another worker (accounts are partitioned): its chart " +
        "is on the console of the worker that holds the account's partition.",
      flows_none: "No daily figures for this account yet.", reports: "reports",
      history: "Status history", no_history: "No status change yet (new lead).", when: "When",
      by: "By", note: "Note", outcome: "Outcome", change: "Change the status",
      new_status: "New status", unchanged: "(unchanged)",
      list_account: "Verified: put this account on the negative list",
      already_listed: "The account is on the negative list: {source}, {by}, {at}",
      save: "Save", saved: "Saved.",
      not_found: "No such lead, or your department may not see it.", entity: "Entity",
      entity_type: "Type", source: "Source", reason: "Reason", added_by: "Added by",
      added_at: "Added at", no_entries: "The negative list is empty.",
      health_note: "The figures below are this worker's.",
      no_model: "No model yet: publish one.", model_loaded: "in use since",
      reports_accepted: "Reports accepted", reports_rejected: "Reports rejected",
      reports_duplicate: "Duplicate reports", consumer_lag: "Consumer lag (messages)",
      accounts_tracked: "Accounts held by this worker",
      leads_emitted: "Lead revisions published", casework: "Leads/status/watchlist topics",
      caught_up: "caught up", catching_up: "catching up", partition: "Partition", lag: "Lag",
      models_refused: "Models refused", session_ends: "session ends", error: "Error: ",
      list_separator: ", ",
      nav_schemes: "Schemes", schemes_count: "{n} schemes", schemes_capped: " (newest {n} shown)",
      no_schemes: "No schemes yet. Leads joined by their money or their owner appear here " +
        "without reloading.",
      scheme: "Scheme", back_schemes: "← back to the schemes", banks: "Banks",
      counties: "Counties", accounts: "Accounts", last_activity: "Last activity",
      first_activity: "First activity", updated: "Updated", provinces: "Provinces (codes)",
      main_collector: "Main collecting account", members: "Accounts", role: "Role", hop: "Hop",
      kind: "Found by", kind_scored: "score", kind_linked: "money trail", leads: "Leads",
      money_flow: "Money flow", scheme_flows: "Money between the accounts", from: "From",
      to: "To", direction: "Direction", amount: "Amount (CNY)", transfers: "Transfers",
      first_tx: "First", last_tx: "Last",
      no_flows: "No money followed between these accounts (they are joined by their owner).",
      flow_image: "Money flow of scheme {id}",
      lead_scheme: "Scheme", in_scheme: "This lead belongs to scheme", as_role: "role: {role}",
      scheme_hidden: "This lead belongs to a scheme led by {department}, which your " +
        "department may not see.",
      trail: "Money trail", source_lead: "Source lead", source_account: "Source account",
      path: "Trail (from the scored lead's account)",
      not_yours: "your department may not see this lead", lead_kind: "Kind",
      lead_scored: "scored lead", lead_linked: "linked by money (hop {hop})",
      scheme_not_found: "No such scheme, or your department may not see it.",
      flows_unreadable: "This account's state could not be read (see the worker's log).",
      network_error: "The worker could not be reached: check the connection and try again.",
      http_error: "The request failed ({status}).",
      saving: "Saving…",
    },
  };

  const query = new URLSearchParams(location.search);
  const langCookie = document.cookie.match(/(?:^|; )lang=(zh|en)/);
  let lang = query.get("lang") || (langCookie ? langCookie[1] : "zh");
  if (!(lang in TEXT)) lang = "zh";
  if (query.get("lang")) saveLang();

  let me = null; // /console/api/me: the user, the CSRF token, code names
  let view = null; // {name, id, token, data, filters}
  const filters = { county: "", sector: "", severity: "", status: "" };
  let seenLeads = null; // lead ids already shown, to mark new ones

  function t(key, values) {
    let text = TEXT[lang][key] || key;
    for (const [name, value] of Object.entries(values || {})) {
      text = text.replace("{" + name + "}", value);
    }
    return text;
  }

  function label(kind, code) {
    const names = me && me.labels[kind] && me.labels[kind][code];
    return names ? names[lang] || names.zh : code;
  }

  function saveLang() {
    document.cookie = "lang=" + lang + "; path=/console; max-age=31536000; SameSite=Strict";
  }

  // el("td", {class: "x"}, "text", childNode ...): children are text or nodes, never HTML.
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
      else node.setAttribute(name, value === true ? "" : value);
    }
    for (const child of children.flat()) {
      if (child === null || child === undefined || child === false) continue;
      node.append(child instanceof Node ? child : String(child));
    }
    return node;
  }

  function svg(tag, attrs, ...children) {
    const node = document.createElementNS("http://www.w3.org/2000/svg", tag);
    for (const [name, value] of Object.entries(attrs || {})) node.setAttribute(name, value);
    for (const child of children) node.append(child instanceof Node ? child : String(child));
    return node;
  }

  function number(value, digits) {
    return Number(value).toLocaleString(lang === "zh" ? "zh-CN" : "en-US", {
      maximumFractionDigits: digits === undefined ? 0 : digits,
    });
  }

  const TIME = new Intl.DateTimeFormat("en-CA", {
    timeZone: "Asia/Shanghai", year: "numeric", month: "2-digit", day: "2-digit",
    hour: "2-digit", minute: "2-digit", hourCycle: "h23",
  });
  function when(iso) {
    if (!iso) return "-";
    const parts = Object.fromEntries(TIME.formatToParts(new Date(iso)).map((p) => [p.type, p.value]));
    return `${parts.year}-${parts.month}-${parts.day} ${parts.hour}:${parts.minute}`;
  }

  // Refusals come with their message in the page's language (the server reads the lang
  // cookie), a code and its params.
  async function api(path, options) {
    let response;
    try {
      response = await fetch(path, Object.assign({ credentials: "same-origin" }, options));
    } catch (failure) {
      throw Object.assign(new Error(t("network_error")), { status: 0 });
    }
    if (response.status === 401) {
      location.href = "/console/login";
      throw Object.assign(new Error(t("http_error", { status: 401 })), { status: 401 });
    }
    const body = await response.json().catch(() => ({}));
    if (!response.ok) {
      const error = new Error(body.error || t("http_error", { status: response.status }));
      error.status = response.status;
      error.code = body.code;
      error.params = body.params || {};
      throw error;
    }
    return body;
  }

  function post(path, body) {
    return api(path, {
      method: "POST",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": me.csrf_token },
      body: JSON.stringify(body),
    });
  }

  const main = () => document.getElementById("main");

  // -- the header -----------------------------------------------------------------------------

  function drawChrome() {
    document.documentElement.lang = lang === "zh" ? "zh-CN" : "en";
    document.title = t("title") + " · fundwatch";
    for (const node of document.querySelectorAll("[data-t]")) node.textContent = t(node.dataset.t);
    document.getElementById("lang-switch").textContent = t("switch");
    const departments = me.departments.map((code) => label("department", code)).join(t("list_separator"));
    document.getElementById("user").textContent = `${me.name} · ${departments}`;
    document.getElementById("footer").textContent =
      `fundwatch · ${t("session_ends")} ${when(me.session_ends)}`;
    for (const link of document.querySelectorAll("nav a")) {
      link.classList.toggle("active", view !== null && link.dataset.view === view.name);
    }
  }

  // -- the lead list --------------------------------------------------------------------------

  function leadsPath(since) {
    const params = new URLSearchParams();
    for (const [name, value] of Object.entries(filters)) if (value) params.set(name, value);
    if (since) params.set("since", since);
    return "/console/api/leads?" + params;
  }

  function select(name, options, labelOf) {
    return el(
      "label", { class: "filter" }, t(name),
      el(
        "select",
        { name: name, onchange: (event) => { filters[name] = event.target.value; refresh(true); } },
        el("option", { value: "" }, t("all")),
        options.map((code) =>
          el("option", { value: code, selected: filters[name] === code }, labelOf(code))),
      ),
    );
  }

  function drawList(data) {
    const counties = Array.from(new Set([...data.counties, filters.county].filter(Boolean)));
    const sectors = Array.from(new Set([...data.sectors, filters.sector].filter(Boolean)));
    const severities = Object.keys(me.labels.severity);
    const statuses = Object.keys(me.labels.status);
    const fresh = new Set();
    for (const lead of data.leads) {
      if (seenLeads !== null && !seenLeads.has(lead.lead_id)) fresh.add(lead.lead_id);
    }
    seenLeads = new Set([...(seenLeads || []), ...data.leads.map((lead) => lead.lead_id)]);
    const rows = data.leads.map((lead) =>
      el(
        "tr",
        {
          class: "lead-row" + (fresh.has(lead.lead_id) ? " fresh" : ""),
          "data-lead-id": lead.lead_id,
          tabindex: "0",
          onclick: () => { location.hash = "#/lead/" + encodeURIComponent(lead.lead_id); },
          onkeydown: (event) => {
            if (event.key === "Enter") location.hash = "#/lead/" + encodeURIComponent(lead.lead_id);
          },
        },
        el("td", {}, when(lead.last_evidence_time)),
        el("td", {}, el("span", { class: "badge sev-" + lead.severity }, label("severity", lead.severity))),
        el("td", {}, label("county", lead.county)),
        el("td", { title: label("sector_category", lead.sector) }, label("sector", lead.sector)),
        el("td", {}, label("department", lead.lead_department)),
        el("td", {}, el("div", {}, lead.customer_name || "-"),
          el("div", { class: "muted" }, `${lead.bank_id}:${lead.account_id}`)),
        el("td", { class: "num" }, number(lead.money_raised_yuan)),
        el("td", { class: "num" }, number(lead.participants)),
        el("td", { class: "num" }, number(lead.score, 3)),
        el("td", {}, el("span", { class: "badge st-" + lead.status }, label("status", lead.status)),
          lead.listed ? el("span", { class: "badge listed", title: t("listed") }, "✕") : null),
      ));
    let summary = t("leads_count", { n: number(data.total) });
    if (data.total > data.leads.length) summary += t("leads_capped", { n: data.leads.length });
    // A filter being chosen (its list open, or focused) is kept as it is: only the count and
    // the table below it are redrawn.
    const current = document.getElementById("filters");
    const inUse = current !== null && current.contains(document.activeElement);
    const filterBar = inUse ? current : el("div", { class: "filters", id: "filters" },
      select("county", counties, (c) => label("county", c)),
      select("sector", sectors, (s) => label("sector", s)),
      select("severity", severities, (s) => label("severity", s)),
      select("status", statuses, (s) => label("status", s)),
      el("span", { id: "lead-count", class: "muted" }, summary));
    if (inUse) document.getElementById("lead-count").textContent = summary;
    const rest = Array.from(main().children).filter((node) => node !== filterBar);
    for (const node of rest) node.remove();
    if (!inUse) main().replaceChildren(filterBar);
    main().append(
      data.leads.length === 0
        ? el("p", { class: "empty", id: "no-leads" }, data.caught_up ? t("no_leads") : t("loading"))
        : el("table", { class: "leads" },
          el("thead", {}, el("tr", {},
            [t("last_evidence"), t("severity"), t("county"), t("sector"), t("department"),
              t("account"), t("raised"), t("participants"), t("score"), t("status")]
              .map((name) => el("th", {}, name)))),
          el("tbody", {}, rows)),
    );
  }

  // -- one lead -------------------------------------------------------------------------------

  function row(name, ...value) {
    return el("tr", {}, el("th", {}, name), el("td", {}, ...value));
  }

  function flowChart(activity) {
    if (!activity.held_here) return el("p", { class: "notice", id: "flows-elsewhere" }, t("flows_other_worker"));
    if (activity.error) return el("p", { class: "notice" }, t("flows_" + activity.error));
    const days = activity.days || [];
    if (days.length === 0) return el("p", { class: "notice" }, t("flows_none"));
    const width = 720, height = 220, left = 70, bottom = 24, top = 12;
    const peak = Math.max(1, ...days.map((d) => Math.max(d.inflow_yuan, d.outflow_yuan)));
    const step = (width - left) / days.length;
    const bar = Math.max(2, step / 2 - 1);
    const y = (v) => top + (height - top - bottom) * (1 - v / peak);
    const chart = svg("svg", {
      viewBox: `0 0 ${width} ${height}`, class: "flows", role: "img", id: "flow-chart",
      "aria-label": t("flows"),
    });
    for (const fraction of [0, 0.5, 1]) {
      const v = peak * fraction;
      chart.append(svg("line", { x1: left, x2: width, y1: y(v), y2: y(v), class: "grid" }));
      chart.append(svg("text", { x: left - 6, y: y(v) + 4, class: "axis", "text-anchor": "end" }, number(v)));
    }
    days.forEach((d, i) => {
      const x = left + i * step;
      const tip = `${d.day} ${t("inflow")} ${number(d.inflow_yuan)} (${d.inflow_count}) · ` +
        `${t("outflow")} ${number(d.outflow_yuan)} (${d.outflow_count})`;
      chart.append(svg("rect", { x: x + 1, y: y(d.inflow_yuan), width: bar, height: y(0) - y(d.inflow_yuan), class: "in" },
        svg("title", {}, tip)));
      chart.append(svg("rect", { x: x + 1 + bar, y: y(d.outflow_yuan), width: bar, height: y(0) - y(d.outflow_yuan), class: "out" },
        svg("title", {}, tip)));
    });
    const ticks = [[0, "start"], [Math.floor(days.length / 2), "middle"], [days.length - 1, "end"]];
    for (const [i, anchor] of ticks) {
      const x = left + i * step + (anchor === "start" ? 1 : anchor === "end" ? step : step / 2);
      chart.append(svg("text", { x: x, y: height - 6, class: "axis", "text-anchor": anchor },
        days[i].day.slice(5)));
    }
    const total = (key) => days.reduce((sum, d) => sum + d[key], 0);
    return el("div", {},
      chart,
      el("p", { class: "legend" },
        el("span", { class: "key in" }), `${t("inflow")} ${number(total("inflow_yuan"))} ¥ `,
        el("span", { class: "key out" }), `${t("outflow")} ${number(total("outflow_yuan"))} ¥ · `,
        `${t("reports")} ${number(activity.report_count)}`));
  }

  // Whether the user has started on the form: chosen, typed or ticked anything, or is in it.
  function touched(form) {
    return form.dataset.touched === "1" || form.contains(document.activeElement);
  }

  function statusForm(data) {
    const current = data.status;
    const message = el("p", { id: "change-message", role: "alert", class: "message" });
    const outcome = el("select", { name: "outcome", id: "outcome" },
      Object.keys(me.labels.outcome).map((code) => el("option", { value: code }, label("outcome", code))));
    const outcomeLabel = el("label", { id: "outcome-field", hidden: true }, t("outcome"), outcome);
    const status = el("select", {
      name: "status", id: "new-status",
      onchange: () => { outcomeLabel.hidden = status.value !== "closed"; },
    },
    el("option", { value: "" }, t("unchanged")),
    Object.keys(me.labels.status).filter((code) => code !== current && code !== "new")
      .concat(current !== "new" ? ["new"] : [])
      .map((code) => el("option", { value: code }, label("status", code))));
    const note = el("textarea", { name: "note", id: "note", rows: 3 });
    const listing = data.listing;
    const listBox = el("input", { type: "checkbox", name: "list_account", id: "list-account", disabled: listing !== null });
    const save = el("button", { type: "submit", id: "save-status" }, t("save"));
    const form = el("form", {
      class: "change", id: "status-form",
      // The state of the lead this form was drawn from: sent with the change, so that a
      // change decided on an older state is refused rather than applied over another's.
      "data-lead-id": data.lead.lead_id, "data-version": String(data.status_version),
    },
    el("label", {}, t("new_status"), status),
    outcomeLabel,
    el("label", { class: "wide" }, t("note"), note),
    el("label", { class: "check" }, listBox, " ", t("list_account")),
    listing
      ? el("p", { class: "muted" }, t("already_listed", {
        source: label("source", listing.source), by: listing.added_by, at: when(listing.added_at),
      }))
      : null,
    save,
    message);
    const markTouched = () => { form.dataset.touched = "1"; };
    form.addEventListener("input", markTouched);
    form.addEventListener("change", markTouched);
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      message.className = "message";
      message.textContent = t("saving");
      save.disabled = true;
      let saved;
      try {
        saved = await post(`/console/api/leads/${encodeURIComponent(data.lead.lead_id)}/status`, {
          status: status.value,
          note: note.value,
          outcome: status.value === "closed" ? outcome.value : null,
          list_account: listBox.checked,
          version: Number(form.dataset.version),
        });
      } catch (error) {
        if (error.code === "stale" && error.params.version !== undefined) {
          // Told who changed the lead; the choices stay, and saving again is deliberate.
          form.dataset.version = error.params.version;
        }
        message.className = "message error";
        message.textContent = t("error") + error.message;
        save.disabled = false;
        return;
      }
      // Saved: the worker's book has it already (read-your-writes), so the page is redrawn
      // from it at once, with a fresh form drawn from the new version.
      form.dataset.touched = "";
      form.dataset.version = String(saved.status_version);
      if (document.activeElement && form.contains(document.activeElement)) document.activeElement.blur();
      await refresh(true);
      const shown = document.getElementById("change-message");
      if (shown) { shown.className = "message ok"; shown.textContent = t("saved"); }
    });
    return form;
  }

  function leadLink(lead) {
    // A lead the user may not open is named, not linked: its page would answer "not found".
    if (!lead.visible) return el("span", { class: "mono muted", title: t("not_yours") }, lead.lead_id);
    return el("span", {},
      el("a", { class: "mono", href: "#/lead/" + encodeURIComponent(lead.lead_id) }, lead.lead_id),
      lead.status ? el("span", { class: "badge st-" + lead.status }, label("status", lead.status)) : null);
  }

  function schemeNote(scheme) {
    if (!scheme) return null;
    if (!scheme.visible) {
      return el("p", { class: "notice", id: "lead-scheme-hidden" },
        t("scheme_hidden", { department: label("department", scheme.lead_department) }));
    }
    return el("p", { id: "lead-scheme" },
      el("span", { class: "badge sev-" + scheme.severity }, label("severity", scheme.severity)), " ",
      t("in_scheme"), " ",
      el("a", { href: "#/scheme/" + encodeURIComponent(scheme.scheme_id), class: "mono", id: "lead-scheme-link" },
        scheme.scheme_id),
      ` · ${t("as_role", { role: label("role", scheme.role) })} · ${t("accounts")} ${number(scheme.accounts)} · ` +
      `${t("raised")} ${number(scheme.money_raised_yuan)} · ${t("participants")} ${number(scheme.participants)}`);
  }

  function trailTable(trail) {
    return el("table", { class: "leads", id: "lead-trail" },
      el("thead", {}, el("tr", {}, [t("source_lead"), t("source_account"), t("direction"), t("hop"),
        t("amount"), t("transfers"), t("first_tx"), t("last_tx"), t("path")].map((n) => el("th", {}, n)))),
      el("tbody", {}, trail.map((link) => el("tr", { "data-source-lead-id": link.source_lead_id },
        el("td", {}, leadLink({ lead_id: link.source_lead_id, visible: link.source_visible })),
        el("td", { class: "mono" }, link.source_account),
        el("td", {}, el("span", { class: "badge dir-" + link.direction }, label("direction", link.direction))),
        el("td", { class: "num" }, number(link.hop)),
        el("td", { class: "num" }, number(link.amount_yuan)),
        el("td", { class: "num" }, number(link.transfers)),
        el("td", {}, when(link.first_tx_time)),
        el("td", {}, when(link.last_tx_time)),
        el("td", { class: "mono" }, link.path.join(" › "))))));
  }

  function drawLead(data) {
    const lead = data.lead;
    const flags = [];
    if (lead.cross_province_major) flags.push(t("cross_province"));
    if (lead.cross_prefecture) flags.push(t("cross_prefecture"));
    const history = data.history.length === 0
      ? el("p", { class: "muted", id: "no-history" }, t("no_history"))
      : el("table", { class: "history", id: "history" },
        el("thead", {}, el("tr", {}, [t("when"), t("status"), t("by"), t("note"), t("outcome")].map((n) => el("th", {}, n)))),
        el("tbody", {}, data.history.slice().reverse().map((change) => el("tr", {},
          el("td", {}, when(change.at)),
          el("td", {}, label("status", change.status)),
          el("td", {}, change.by),
          el("td", { class: "note" }, change.note || "-"),
          el("td", {}, change.outcome ? label("outcome", change.outcome) : "-")))));
    // Each reason's text already places the value against the training population.
    const reasons = (lead.reasons || []).map((reason) =>
      el("li", { title: reason.feature }, reason[lang === "zh" ? "text_zh" : "text_en"]));
    const parts = [
      el("p", {}, el("a", { href: "#/" }, t("back"))),
      el("h1", { class: "lead-title" },
        el("span", { class: "badge sev-" + lead.severity }, label("severity", lead.severity)), " ",
        lead.customer_name || lead.account_id, " ",
        el("span", { class: "badge st-" + data.status, id: "lead-status" }, label("status", data.status)),
        data.listing ? el("span", { class: "badge listed", id: "lead-listed" }, t("listed")) : null),
      el("div", { class: "columns" },
        el("section", {},
          el("h2", {}, t("summary")),
          el("table", { class: "facts" }, el("tbody", {},
            row(t("lead"), `${lead.lead_id} (${t("revision")} ${lead.revision})`),
            row(t("lead_kind"), lead.kind === "linked" ? t("lead_linked", { hop: lead.hop }) : t("lead_scored")),
            row(t("account"), lead.account_id),
            row(t("bank"), lead.bank_id),
            row(t("customer"), lead.customer_name || "-"),
            row(t("county"), `${label("county", lead.county)} (${lead.region})`),
            row(t("sector"), `${label("sector", lead.sector)} · ${lead.seed_category || "-"}`),
            row(t("department"), label("department", lead.lead_department)),
            row(t("routed_to"), data.departments.map((code) => label("department", code)).join(t("list_separator"))),
            row(t("score"), `${number(lead.score, 3)} (${t("threshold")} ${number(lead.threshold, 3)})`),
            row(t("model"), lead.model_version),
            row(t("raised"), number(lead.money_raised_fen / 100)),
            row(t("participants"), number(lead.participants)),
            row(t("flags"), flags.join(t("list_separator")) || "-"),
            row(t("first_evidence"), when(lead.first_evidence_time)),
            row(t("last_evidence"), when(lead.last_evidence_time)),
            row(t("first_emitted"), when(data.first_emitted_at))))),
        el("section", {},
          el("h2", {}, t("reasons")), el("ol", { class: "reasons", id: "reasons" }, reasons),
          el("h2", {}, t("evidence")),
          el("p", { class: "mono" }, (lead.evidence_tx_ids || []).join(", ") || "-"),
          (lead.watchlist_matches || []).length
            ? el("div", {}, el("h2", {}, t("watchlist_matches")),
              el("ul", {}, lead.watchlist_matches.map((m) => el("li", { class: "mono" }, m))))
            : null)),
      data.scheme || data.trail.length
        ? el("section", { id: "lead-links" },
          data.scheme ? el("h2", {}, t("lead_scheme")) : null, schemeNote(data.scheme),
          data.trail.length ? el("h2", {}, t("trail")) : null,
          data.trail.length ? trailTable(data.trail) : null)
        : null,
      el("section", {}, el("h2", {}, t("flows")), flowChart(data.activity)),
    ].filter(Boolean);
    const historySection = el("section", { id: "history-section" }, el("h2", {}, t("history")), history);
    const kept = document.getElementById("status-form");
    if (kept !== null && kept.dataset.leadId === lead.lead_id && touched(kept)) {
      // The analyst is at the form: everything else is redrawn, the form not at all (not
      // even moved, which would take the focus from it).
      const bottom = document.getElementById("lead-bottom");
      for (const node of Array.from(main().children)) if (node !== bottom) node.remove();
      bottom.before(...parts);
      document.getElementById("history-section").replaceWith(historySection);
      return;
    }
    main().replaceChildren(...parts,
      el("div", { class: "columns", id: "lead-bottom" },
        historySection,
        el("section", { id: "change-section" }, el("h2", {}, t("change")), statusForm(data))));
  }

  // -- the suspected schemes ------------------------------------------------------------------

  function flags(item) {
    const names = [];
    if (item.cross_province_major) names.push(t("cross_province"));
    if (item.cross_prefecture) names.push(t("cross_prefecture"));
    return names;
  }

  function drawSchemes(data) {
    const open = (id) => { location.hash = "#/scheme/" + encodeURIComponent(id); };
    const rows = data.schemes.map((scheme) =>
      el(
        "tr",
        {
          class: "lead-row", "data-scheme-id": scheme.scheme_id, tabindex: "0",
          onclick: () => open(scheme.scheme_id),
          onkeydown: (event) => { if (event.key === "Enter") open(scheme.scheme_id); },
        },
        el("td", {}, when(scheme.last_activity)),
        el("td", {}, el("span", { class: "badge sev-" + scheme.severity }, label("severity", scheme.severity)),
          flags(scheme).map((name) => el("div", { class: "muted" }, name))),
        el("td", { class: "mono" }, scheme.scheme_id),
        el("td", {}, scheme.banks.join(t("list_separator"))),
        el("td", {}, scheme.counties.map((c) => label("county", c)).join(t("list_separator"))),
        el("td", { class: "num" }, number(scheme.money_raised_yuan)),
        el("td", { class: "num" }, number(scheme.participants)),
        el("td", { class: "num", title: roleCounts(scheme) }, number(scheme.accounts)),
        el("td", {}, label("department", scheme.lead_department)),
      ));
    let summary = t("schemes_count", { n: number(data.total) });
    if (data.total > data.schemes.length) summary += t("schemes_capped", { n: data.schemes.length });
    main().replaceChildren(
      el("h1", {}, t("nav_schemes")),
      el("p", { id: "scheme-count", class: "muted" }, summary),
      data.schemes.length === 0
        ? el("p", { class: "empty", id: "no-schemes" }, data.caught_up ? t("no_schemes") : t("loading"))
        : el("table", { class: "leads", id: "schemes" },
          el("thead", {}, el("tr", {},
            [t("last_activity"), t("severity"), t("scheme"), t("banks"), t("counties"), t("raised"),
              t("participants"), t("accounts"), t("department")].map((name) => el("th", {}, name)))),
          el("tbody", {}, rows)),
    );
  }

  function roleCounts(scheme) {
    return Object.entries(scheme.accounts_by_role).filter(([, n]) => n > 0)
      .map(([role, n]) => `${label("role", role)} ${number(n)}`).join(t("list_separator"));
  }

  function drawScheme(data, token) {
    const scheme = data.scheme;
    const kinds = (member) => [member.scored ? t("kind_scored") : null, member.linked ? t("kind_linked") : null]
      .filter(Boolean).join(t("list_separator"));
    const members = el("table", { class: "leads", id: "scheme-members" },
      el("thead", {}, el("tr", {}, [t("account"), t("bank"), t("county"), t("role"), t("hop"), t("kind"),
        t("raised"), t("participants"), t("leads")].map((n) => el("th", {}, n)))),
      el("tbody", {}, data.members.map((member) => el("tr", { "data-account": member.account_id, "data-role": member.role },
        el("td", {}, el("div", {}, member.customer_name || "-"), el("div", { class: "mono muted" }, member.account_id)),
        el("td", {}, member.bank_id),
        el("td", {}, label("county", member.county)),
        el("td", {}, el("span", { class: "badge role-" + member.role }, label("role", member.role))),
        el("td", { class: "num" }, number(member.hop)),
        el("td", {}, kinds(member)),
        el("td", { class: "num" }, number(member.money_raised_yuan)),
        el("td", { class: "num" }, number(member.participants)),
        el("td", { class: "lead-links" }, member.leads.map((lead) => el("div", {}, leadLink(lead))))))));
    const names = Object.fromEntries(data.members.map((member) => [member.account_id, member.customer_name]));
    const account = (id) => el("td", {}, el("div", { class: "mono" }, id),
      names[id] ? el("div", { class: "muted" }, names[id]) : null);
    const flows = data.flows.length === 0
      ? el("p", { class: "muted", id: "no-scheme-flows" }, t("no_flows"))
      : el("table", { class: "leads", id: "scheme-flows" },
        el("thead", {}, el("tr", {}, [t("from"), t("to"), t("direction"), t("amount"), t("transfers"),
          t("first_tx"), t("last_tx")].map((n) => el("th", {}, n)))),
        el("tbody", {}, data.flows.map((flow) => el("tr", {},
          account(flow.from_account),
          account(flow.to_account),
          el("td", {}, el("span", { class: "badge dir-" + flow.direction }, label("direction", flow.direction))),
          el("td", { class: "num" }, number(flow.amount_yuan)),
          el("td", { class: "num" }, number(flow.transfers)),
          el("td", {}, when(flow.first_tx_time)),
          el("td", {}, when(flow.last_tx_time))))));
    // The picture is the server's SVG shown as an image: none of its markup enters the page.
    const picture = `/console/api/schemes/${encodeURIComponent(scheme.scheme_id)}/flow.svg?` +
      new URLSearchParams({ lang: lang, v: token });
    main().replaceChildren(
      el("p", {}, el("a", { href: "#/schemes" }, t("back_schemes"))),
      el("h1", { class: "lead-title" },
        el("span", { class: "badge sev-" + scheme.severity, id: "scheme-severity" }, label("severity", scheme.severity)), " ",
        t("scheme"), " ", el("span", { class: "mono" }, scheme.scheme_id), " ",
        flags(scheme).map((name) => el("span", { class: "badge flag" }, name))),
      el("section", {},
        el("h2", {}, t("summary")),
        el("table", { class: "facts", id: "scheme-facts" }, el("tbody", {},
          row(t("severity"), [label("severity", scheme.severity), ...flags(scheme)].join(t("list_separator"))),
          row(t("raised"), number(scheme.money_raised_yuan)),
          row(t("participants"), number(scheme.participants)),
          row(t("accounts"), `${number(scheme.accounts)} (${roleCounts(scheme)})`),
          row(t("leads"), number(scheme.leads)),
          row(t("banks"), scheme.banks.join(t("list_separator"))),
          row(t("counties"), scheme.counties.map((c) => label("county", c)).join(t("list_separator"))),
          row(t("provinces"), scheme.provinces.join(t("list_separator")) || "-"),
          row(t("sector"), `${label("sector", scheme.sector)} · ${scheme.seed_category || "-"}`),
          row(t("department"), label("department", scheme.lead_department)),
          row(t("routed_to"), scheme.routes.map((code) => label("department", code)).join(t("list_separator"))),
          row(t("main_collector"), el("span", { class: "mono" }, scheme.main_collector)),
          row(t("first_activity"), when(scheme.first_activity)),
          row(t("last_activity"), when(scheme.last_activity)),
          row(t("updated"), when(scheme.updated_at))))),
      el("section", {}, el("h2", {}, t("money_flow")),
        el("div", { class: "flow-picture" },
          el("img", { src: picture, alt: t("flow_image", { id: scheme.scheme_id }), class: "scheme-flow", id: "scheme-flow" }))),
      el("section", {}, el("h2", {}, t("members")), members),
      el("section", {}, el("h2", {}, t("scheme_flows")), flows),
    );
  }

  // -- the negative list and the worker's health ------------------------------------------------

  function drawWatchlist(data) {
    main().replaceChildren(
      el("h1", {}, t("nav_watchlist")),
      data.entries.length === 0
        ? el("p", { class: "empty" }, t("no_entries"))
        : el("table", { class: "leads", id: "watchlist" },
          el("thead", {}, el("tr", {}, [t("entity_type"), t("entity"), t("source"), t("reason"),
            t("added_by"), t("added_at"), t("lead")].map((n) => el("th", {}, n)))),
          el("tbody", {}, data.entries.map((entry) => el("tr", {},
            el("td", {}, label("entity_type", entry.entity_type)),
            el("td", { class: "mono" }, entry.entity_id),
            el("td", {}, label("source", entry.source)),
            el("td", { class: "note" }, entry.reason),
            el("td", {}, entry.added_by),
            el("td", {}, when(entry.added_at)),
            el("td", {}, entry.lead_id
              ? el("a", { href: "#/lead/" + encodeURIComponent(entry.lead_id) }, entry.lead_id)
              : "-"))))),
    );
  }

  function drawHealth(data) {
    const model = data.model;
    main().replaceChildren(
      el("h1", {}, t("nav_health")),
      el("p", { class: "muted" }, t("health_note")),
      el("table", { class: "facts", id: "health" }, el("tbody", {},
        row(t("model"), model
          ? `${model.version} (${t("threshold")} ${number(model.threshold, 4)}, ${t("model_loaded")} ${when(new Date(model.loaded_at * 1000).toISOString())})`
          : t("no_model")),
        row(t("models_refused"), number(data.models_refused)),
        row(t("reports_accepted"), number(data.reports_accepted)),
        row(t("reports_rejected"), number(data.reports_rejected) +
          (Object.keys(data.rejected_by_reason).length
            ? " (" + Object.entries(data.rejected_by_reason).map(([r, n]) => `${label("reject_reason", r)} ${number(n)}`).join(t("list_separator")) + ")"
            : "")),
        row(t("reports_duplicate"), number(data.reports_duplicate)),
        row(t("consumer_lag"), number(data.consumer_lag)),
        row(t("accounts_tracked"), number(data.accounts_tracked)),
        row(t("leads_emitted"), number(data.leads_emitted)),
        row(t("casework"), `${data.casework.caught_up ? t("caught_up") : t("catching_up")} · ` +
          `${t("nav_leads")} ${number(data.casework.leads)} · ${t("status")} ${number(data.casework.statuses)} · ` +
          `${t("nav_watchlist")} ${number(data.casework.watchlist)}`))),
      data.lag_by_partition.length
        ? el("table", { class: "leads narrow" },
          el("thead", {}, el("tr", {}, el("th", {}, t("partition")), el("th", {}, t("lag")))),
          el("tbody", {}, data.lag_by_partition.map((p) =>
            el("tr", {}, el("td", {}, `${p.topic}[${p.partition}]`), el("td", { class: "num" }, number(p.lag))))))
        : null,
    );
  }

  // -- routing and polling --------------------------------------------------------------------

  function route() {
    const hash = location.hash || "#/";
    const lead = hash.match(/^#\/lead\/(.+)$/);
    if (lead) return { name: "lead", id: decodeURIComponent(lead[1]) };
    const scheme = hash.match(/^#\/scheme\/(.+)$/);
    if (scheme) return { name: "scheme", id: decodeURIComponent(scheme[1]) };
    if (hash === "#/schemes") return { name: "schemes" };
    if (hash === "#/watchlist") return { name: "watchlist" };
    if (hash === "#/health") return { name: "health" };
    return { name: "list" };
  }

  // Each refresh has a number; an answer is drawn only if no later refresh was started
  // meanwhile, so a slow poll's older answer never overwrites a newer one (the state just
  // saved, say).
  let busy = false;
  let generation = 0;
  async function refresh(force) {
    if (busy && !force) return;
    busy = true;
    const mine = ++generation;
    const current = view;
    const latest = () => view === current && mine === generation;
    const shown = (data, draw) => {
      current.token = data.token;
      draw(data);
      main().dataset.token = data.token || ""; // which state of the book the view shows
    };
    try {
      if (current.name === "list") {
        const data = await api(leadsPath(force ? null : current.token));
        if (!latest() || !data.changed) return;
        shown(data, drawList);
      } else if (current.name === "lead") {
        const data = await api("/console/api/leads/" + encodeURIComponent(current.id));
        if (!latest() || (!force && data.token === current.token)) return;
        shown(data, drawLead);
      } else if (current.name === "schemes") {
        const data = await api("/console/api/schemes" + (force || !current.token ? "" : "?since=" + encodeURIComponent(current.token)));
        if (!latest() || !data.changed) return;
        shown(data, drawSchemes);
      } else if (current.name === "scheme") {
        const data = await api("/console/api/schemes/" + encodeURIComponent(current.id));
        if (!latest() || (!force && data.token === current.token)) return;
        shown(data, (d) => drawScheme(d, d.token));
      } else if (current.name === "watchlist") {
        const data = await api("/console/api/watchlist");
        if (!latest() || (!force && data.token === current.token)) return;
        shown(data, drawWatchlist);
      } else {
        const data = await api("/console/api/health");
        if (!latest()) return;
        drawHealth(data);
      }
    } catch (error) {
      if (!latest()) return;
      if (error.status === 404 && current.name === "scheme") {
        main().replaceChildren(el("p", { class: "empty", id: "not-found" }, t("scheme_not_found")),
          el("p", {}, el("a", { href: "#/schemes" }, t("back_schemes"))));
      } else if (error.status === 404) {
        main().replaceChildren(el("p", { class: "empty", id: "not-found" }, t("not_found")),
          el("p", {}, el("a", { href: "#/" }, t("back"))));
      } else if (!force && current.token !== null) {
        // A poll that failed (the worker restarting, a network hiccup): the view stays as
        // drawn, with whatever the user is doing in it; the next poll tries again.
        console.warn("console refresh failed:", error.message);
      } else {
        main().replaceChildren(el("p", { class: "message error" }, t("error") + error.message));
      }
    } finally {
      if (mine === generation) busy = false;
    }
  }

  function open() {
    view = route();
    view.token = null;
    if (view.name !== "list") seenLeads = null;
    drawChrome();
    refresh(true);
  }

  async function start() {
    me = await api("/console/api/me");
    document.getElementById("lang-switch").addEventListener("click", () => {
      lang = lang === "zh" ? "en" : "zh";
      saveLang();
      main().replaceChildren(); // everything is drawn again in the other language
      open();
    });
    document.getElementById("sign-out").addEventListener("click", async () => {
      await post("/console/logout", {}).catch(() => null);
      location.href = "/console/login";
    });
    window.addEventListener("hashchange", open);
    open();
    setInterval(() => { if (!document.hidden) refresh(false); }, POLL_MS);
  }

  start();
})();
