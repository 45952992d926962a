// English and Korean, switchable, remembered per browser. A key missing from the
// dictionary is reported on the console (the browser tests fail on it) and shown as
// the key, never as an empty string.

import i18next from "i18next";
import { initReactI18next } from "react-i18next";

import { en } from "./en";
import { ko } from "./ko";

export const LANGUAGES = ["en", "ko"] as const;
export type Language = (typeof LANGUAGES)[number];
const KEY = "sage.lang";

function initial(): Language {
  const saved = localStorage.getItem(KEY);
  if (saved === "en" || saved === "ko") return saved;
  return navigator.language.toLowerCase().startsWith("ko") ? "ko" : "en";
}

export function setLanguage(lang: Language): void {
  localStorage.setItem(KEY, lang);
  void i18next.changeLanguage(lang);
  document.documentElement.lang = lang;
}

export function setUpI18n(): void {
  const lang = initial();
  document.documentElement.lang = lang;
  void i18next.use(initReactI18next).init({
    resources: { en: { translation: en }, ko: { translation: ko } },
    lng: lang,
    fallbackLng: false,
    interpolation: { escapeValue: false },
    returnNull: false,
    showSupportNotice: false,
    saveMissing: true,
    missingKeyHandler: (lngs, _ns, key) => console.error(`missing translation: ${lngs.join(",")} ${key}`),
  });
}

/** Dates in the user's own time zone and language. */
export function formatTime(iso: string | null | undefined, lang: string): string {
  if (!iso) return "—";
  return new Intl.DateTimeFormat(lang === "ko" ? "ko-KR" : "en-GB", {
    dateStyle: "medium",
    timeStyle: "medium",
  }).format(new Date(iso));
}

export function formatDuration(fromIso?: string | null, toIso?: string | null): string {
  if (!fromIso) return "—";
  const ms = Math.max((toIso ? Date.parse(toIso) : Date.now()) - Date.parse(fromIso), 0);
  if (ms < 1000) return i18next.t("duration.ms", { n: ms });
  const s = ms / 1000;
  if (s < 60) return i18next.t("duration.s", { n: s.toFixed(1) });
  return i18next.t("duration.min", { m: Math.floor(s / 60), s: Math.round(s % 60) });
}
