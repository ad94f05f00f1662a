"use strict";
// The sign-in page: its texts in the chosen language, and why the last try was refused.
(function () {
  const TEXT = {
    zh: {
      title: "非法集资监测预警", subtitle: "线索工作台 · 请登录", name: "用户名",
      password: "密码", sign_in: "登录", switch: "English",
      refused: "用户名或密码不正确。", blocked: "失败次数过多，请 15 分钟后再试。",
    },
    en: {
      title: "Illegal fundraising monitoring", subtitle: "Leads console · please sign in",
      name: "User name", password: "Password", sign_in: "Sign in", switch: "中文",
      refused: "Wrong user name or password.",
      blocked: "Too many failed attempts: try again in 15 minutes.",
    },
  };
  const query = new URLSearchParams(location.search);
  const cookie = document.cookie.match(/(?:^|; )lang=(zh|en)/);
  let lang = query.get("lang") || (cookie ? cookie[1] : "zh");
  if (!(lang in TEXT)) lang = "zh";

  function show() {
    const text = TEXT[lang];
    document.documentElement.lang = lang === "zh" ? "zh-CN" : "en";
    document.title = text.title + " · fundwatch";
    for (const node of document.querySelectorAll("[data-t]")) {
      node.textContent = text[node.dataset.t];
    }
    document.getElementById("lang-switch").textContent = text.switch;
    const error = query.get("error");
    const box = document.getElementById("error");
    box.hidden = !error;
    if (error) box.textContent = text[error] || text.refused;
  }

  document.getElementById("lang-switch").addEventListener("click", function () {
    lang = lang === "zh" ? "en" : "zh";
    document.cookie = "lang=" + lang + "; path=/console; max-age=31536000; SameSite=Strict";
    show();
  });
  show();
})();
