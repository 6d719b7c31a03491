// The merchant page (phone, 390 × 844): my code, take a store photo, binding result,
// benefits and progress. Chinese and English.
import {
  api, apiImageUrl, ApiError, claims, clearToken, el, getToken, setToken, show,
  takeTokenFromFragment,
} from "./paver.js";

const main = document.getElementById("main");
const who = document.getElementById("who");

const TEXT = {
  en: {
    title: "My shop", signin: "Sign in", token: "Access token",
    tokenHelp: "Paste the token or open the sign-in link your partner gave you.",
    badToken: "That is not a valid, unexpired merchant token.", signout: "Sign out",
    lang: "中文", langName: "Switch to Chinese", myCode: "My payment code",
    noCode: "No code has been issued to your shop yet.", status: "Status",
    statuses: { issued: "issued", shipped: "on its way", installed: "installed", active: "active" },
    photo: "Take a store photo",
    photoHelp: "Photograph your counter with the payment code visible, at your shop, with location on.",
    uploading: "Uploading your photo…", checking: "Checking your photo…",
    bound: (l) => `Done: your code is bound and your shop is now level ${l}.`,
    already: "Your shop was already bound; nothing changed.",
    refused: "We could not bind your code:", retry: "Take a new photo and try again.",
    timeout: "Still checking. Look again in a minute.", level: "Level",
    bindingState: (b) => (b ? "Your code is bound." : "Your code is not bound yet."),
    payments: (n, a) => `${n} payments, ¥${a} collected`,
    benefits: "Benefits and progress", granted: "granted",
    toGo: (p) => `${Math.round(p * 100)}% of the way`,
    reasons: {
      photo_unreadable: "the photo could not be read; use a normal JPEG or PNG photo",
      no_position: "the photo has no location; turn location on for the camera and retry",
      too_far: "the photo was taken too far from your registered address",
      qr_not_found: "no payment code is visible in the photo",
      qr_other_merchant: "the code in the photo belongs to another shop",
      uscc_invalid: "your registered business credential fails its check",
      name_missing: "your registered shop name is missing",
      credential_taken: "another shop is already bound with your credential",
    },
    benefitNames: {
      welcome_coupon_pack: "welcome coupon pack", fee_waiver_30_days: "30 days without fees",
      settlement_upgrade_t0: "same-day settlement", marketing_subsidy: "marketing subsidy",
      binding_upgrade_pack: "upgrade pack for binding your code",
    },
  },
  zh: {
    title: "我的店铺", signin: "登录", token: "访问令牌（Access token）",
    tokenHelp: "粘贴令牌，或打开合作机构发给您的登录链接。",
    badToken: "令牌无效或已过期。", signout: "退出",
    lang: "English", langName: "切换到英文", myCode: "我的收款码",
    noCode: "您的店铺还没有收款码。", status: "状态",
    statuses: { issued: "已生成", shipped: "配送中", installed: "已安装", active: "已启用" },
    photo: "拍摄门店照片",
    photoHelp: "请在店内开启定位，拍下柜台和清晰可见的收款码。",
    uploading: "正在上传照片…", checking: "正在核验照片…",
    bound: (l) => `完成：收款码已绑定，店铺升级为 ${l} 级。`,
    already: "店铺此前已绑定，无变化。",
    refused: "暂时无法绑定：", retry: "请重新拍照再试。",
    timeout: "仍在核验，请稍后再看。", level: "等级",
    bindingState: (b) => (b ? "收款码已绑定。" : "收款码尚未绑定。"),
    payments: (n, a) => `${n} 笔收款，共 ¥${a}`,
    benefits: "权益与进度", granted: "已获得",
    toGo: (p) => `已完成 ${Math.round(p * 100)}%`,
    reasons: {
      photo_unreadable: "照片无法读取，请使用普通 JPEG 或 PNG 照片",
      no_position: "照片没有位置信息，请为相机开启定位后重拍",
      too_far: "拍摄地点距离登记地址太远",
      qr_not_found: "照片中看不到收款码",
      qr_other_merchant: "照片中的收款码属于其他店铺",
      uscc_invalid: "登记的统一社会信用代码校验未通过",
      name_missing: "登记的店铺名称缺失",
      credential_taken: "该营业执照已被其他店铺绑定",
    },
    benefitNames: {
      welcome_coupon_pack: "新店礼券包", fee_waiver_30_days: "30 天免手续费",
      settlement_upgrade_t0: "当日到账", marketing_subsidy: "营销补贴",
      binding_upgrade_pack: "绑定升级礼包",
    },
  },
};

let lang = sessionStorage.getItem("paver.lang")
  || ((navigator.language || "").toLowerCase().startsWith("zh") ? "zh" : "en");
const t = () => TEXT[lang];

function header(signedIn) {
  document.documentElement.lang = lang === "zh" ? "zh-CN" : "en";
  document.title = `Paver · ${t().title}`;
  show(who, el("button", { type: "button", class: "secondary", lang: lang === "zh" ? "en" : "zh-CN",
    "aria-label": t().langName, text: t().lang, onclick: () => {
      lang = lang === "zh" ? "en" : "zh";
      sessionStorage.setItem("paver.lang", lang);
      render();
    } }), signedIn ? el("button", { type: "button", class: "secondary", text: t().signout,
    onclick: () => { clearToken(); render(); } }) : null);
}

function signIn() {
  header(false);
  const msg = el("div");
  const input = el("input", { id: "token", type: "password", autocomplete: "off", required: true,
    "aria-describedby": "token-help" });
  show(main, el("h1", { text: t().title }), el("form", { class: "card", onsubmit: (e) => {
    e.preventDefault();
    const c = claims(input.value.trim());
    if (!c || c.role !== "merchant") {
      show(msg, el("p", { class: "status error", role: "alert", text: t().badToken }));
      return;
    }
    setToken(input.value);
    render();
  } }, el("label", { for: "token", text: t().token }), input,
  el("p", { id: "token-help", class: "muted", text: t().tokenHelp }),
  el("button", { type: "submit", text: t().signin }), msg));
}

async function render() {
  const c = getToken() ? claims() : null;
  if (!c || c.role !== "merchant") {
    if (c) clearToken();
    signIn();
    return;
  }
  header(true);
  const id = c.sub;
  const enc = encodeURIComponent(id);
  const codeBox = el("div");
  const shopBox = el("div");
  const benefitBox = el("div");
  const result = el("div", { "aria-live": "polite", class: "result" });
  const file = el("input", { id: "photo", type: "file", accept: "image/*",
    capture: "environment", "aria-describedby": "photo-help" });
  file.addEventListener("change", () => upload(id, file, result, shopBox, benefitBox));
  show(main, el("h1", { text: t().title }),
    el("section", { class: "card", "aria-labelledby": "s-code" },
      el("h2", { id: "s-code", text: t().myCode }), codeBox),
    el("section", { class: "card", "aria-labelledby": "s-photo" },
      el("h2", { id: "s-photo", text: t().photo }),
      el("label", { for: "photo", text: t().photo }), file,
      el("p", { id: "photo-help", class: "muted", text: t().photoHelp }), result),
    el("section", { class: "card", "aria-labelledby": "s-shop" },
      el("h2", { id: "s-shop", text: `${t().level} · ${t().benefits}` }), shopBox, benefitBox));
  try {
    const code = await api(`/codes/${encodeURIComponent(`code-${id}`)}`);
    const img = el("img", { id: "code-img", alt: `${t().myCode} ${id}`, width: 320, height: 320 });
    show(codeBox, img, el("p", { id: "code-status" },
      `${t().status}: `, el("strong", { text: t().statuses[code.status] || code.status })));
    img.src = await apiImageUrl(`/codes/${encodeURIComponent(code.code_id)}/image`);
  } catch (err) {
    show(codeBox, el("p", { class: "muted",
      text: err instanceof ApiError && (err.status === 404 || err.status === 403)
        ? t().noCode : err.message }));
  }
  await shop(id, enc, shopBox, benefitBox);
}

async function shop(id, enc, shopBox, benefitBox) {
  try {
    const [m, ms] = await Promise.all([api(`/merchants/${enc}`), api(`/merchants/${enc}/milestones`)]);
    show(shopBox, el("p", { id: "shop-level" }, el("strong", { text: `${t().level} ${m.level}` }),
      ` · ${t().bindingState(m.bound)}`),
    el("p", { text: t().payments(m.totals.txn_count, m.totals.txn_amount) }));
    const granted = m.benefits.filter((b) => !b.benefit_id.startsWith("milestone#"));
    show(benefitBox, el("ul", { class: "plain" }, granted.map((b) => el("li", {},
      el("strong", { text: t().benefitNames[b.kind] || b.kind }), ` — ${t().granted}`)),
    ms.milestones.map((x) => el("li", {},
      el("span", { id: `ms-${x.milestone}`, text: t().benefitNames[x.benefit] || x.benefit }),
      " — ", x.granted ? el("strong", { text: t().granted }) : t().toGo(x.progress),
      el("progress", { max: 1, value: x.progress, "aria-labelledby": `ms-${x.milestone}` })))));
  } catch (err) {
    show(shopBox, el("p", { class: "status error", role: "alert", text: err.message }));
  }
}

async function upload(id, input, result, shopBox, benefitBox) {
  const f = input.files && input.files[0];
  if (!f) return;
  const enc = encodeURIComponent(id);
  const say = (text, kind = "info") => show(result, el("p", { class: `status ${kind}`, text }));
  try {
    say(t().uploading);
    const grant = await api(`/merchants/${enc}/photos`, { method: "POST",
      body: { content_type: f.type || "image/jpeg", size: f.size } });
    const form = new FormData();
    for (const [k, v] of Object.entries(grant.fields)) form.append(k, v);
    form.append("file", f);
    const put = await fetch(grant.url, { method: "POST", body: form });
    if (!put.ok) throw new Error(`upload refused (${put.status})`);
    say(t().checking);
    for (let i = 0; i < 60; i += 1) {
      await new Promise((r) => { setTimeout(r, 1000); });
      const { attempts } = await api(`/merchants/${enc}/binding`);
      const a = attempts.find((x) => x.attempt_id === grant.attempt_id);
      if (!a) continue;
      if (a.outcome === "bound") say(t().bound(await level(enc)), "ok");
      else if (a.outcome === "already_bound") say(t().already, "ok");
      else {
        show(result, el("div", { class: "status error", role: "alert" }, el("p", { text: t().refused }),
          el("ul", {}, a.reasons.map((r) => el("li", { text: t().reasons[r.code] || r.reason }))),
          el("p", { text: t().retry })));
      }
      await shop(id, enc, shopBox, benefitBox);
      return;
    }
    say(t().timeout);
  } catch (err) {
    say(err.message, "error");
  }
}

async function level(enc) {
  return (await api(`/merchants/${enc}`)).level;
}

takeTokenFromFragment();
render();
