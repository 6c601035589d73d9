/**
 * The quote-header and signature patterns of email-reply-parser 2.3.7 by Crisp IM SAS
 * (https://github.com/crisp-oss/email-reply-parser; in the npm package, `quoteHeadersRegex` and `signatureRegex` of
 * dist/regex.js), copied unchanged with their comments. quotes.ts uses them to know when none of the library's
 * patterns can fire in a text, so that the text need not go through the library. The package does not export them,
 * hence the copy under the library's licence (below). The copy must follow the version pinned in package.json:
 * tests/unit/inbound/quotes.test.ts holds Mesa's shortcut equal to the library's own result.
 *
 * The MIT License (MIT)
 *
 * Copyright (c) 2021 Crisp IM SAS
 *
 * Permission is hereby granted, free of charge, to any person obtaining a copy
 * of this software and associated documentation files (the "Software"), to deal
 * in the Software without restriction, including without limitation the rights
 * to use, copy, modify, merge, publish, distribute, sublicense, and/or sell
 * copies of the Software, and to permit persons to whom the Software is
 * furnished to do so, subject to the following conditions:
 *
 * The above copyright notice and this permission notice shall be included in all
 * copies or substantial portions of the Software.
 *
 * THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR
 * IMPLIED, INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY,
 * FITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT. IN NO EVENT SHALL THE
 * AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM, DAMAGES OR OTHER
 * LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM,
 * OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE
 * SOFTWARE.
 */

export const QUOTE_HEADER_PATTERNS: readonly RegExp[] = [
  /^-*\s*(On\s.+\s.+\n?wrote:{0,1})\s{0,1}-*$/m, // On DATE, NAME <EMAIL> wrote:
  /^-*\s*(Le\s.+\s.+\n?écrit\s?:{0,1})\s{0,1}-*$/m, // Le DATE, NAME <EMAIL> a écrit :
  /^-*\s*(El\s.+\s.+\n?escribió:{0,1})\s{0,1}-*$/m, // El DATE, NAME <EMAIL> escribió:
  /^-*\s*(Il\s.+\s.+\n?scritto:{0,1})\s{0,1}-*$/m, // Il DATE, NAME <EMAIL> ha scritto:
  /^-*\s*(Em\s.+\s.+\n?escreveu:{0,1})\s{0,1}-*$/m, // Em DATE, NAME <EMAIL> ha escreveu:
  /^\s*(Am\s.+\s)\n?\n?schrieb.+\s?(\[|<).+(\]|>):$/m, // Am DATE schrieb NAME <EMAIL>:
  /^\s*(Op\s[\s\S]+?\n?schreef[\s\S]+:)$/m, // Il DATE, schreef NAME <EMAIL>:
  /^\s*((W\sdniu|Dnia)\s[\s\S]+?(pisze|napisał(\(a\))?):)$/mu, // W dniu DATE, NAME <EMAIL> pisze|napisał:
  /^\s*(Den\s.+\s\n?skrev\s.+:)$/m, // Den DATE skrev NAME <EMAIL>:
  /^\s*(pe\s.+\s.+\n?kirjoitti:)$/m, // pe DATE NAME <EMAIL> kirjoitti:
  /^\s*(Am\s.+\sum\s.+\s\n?schrieb\s.+:)$/m, // Am DATE um TIME schrieb NAME:
  /^\s*(ср\,\s.+\n? г\. в\s.+,\s.+[\[|<].+[\]|>]:)$/m, // ср, DATE г. в TIME, NAME <EMAIL>:
  /^(在[\s\S]+写道：)$/m, // > 在 DATE, TIME, NAME 写道：
  /^(20[0-9]{2}\..+\s작성:)$/m, // DATE TIME NAME 작성:
  /^(20[0-9]{2}\/.+のメッセージ:)$/m, // DATE TIME、NAME のメッセージ:
  /^(.+\s<.+>\sschrieb:)$/m, // NAME <EMAIL> schrieb:
  /^(.+\son.*at.*wrote:)$/m, // NAME on DATE wrote:
  /^\s*(From\s?:.+\s?\n?\s*[\[|<].+[\]|>])/m, // "From: NAME <EMAIL>" OR "From : NAME <EMAIL>" OR "From : NAME<EMAIL>"(With support whitespace before start and before <)
  /^\s*(Von\s?:.+\s?\n?\s*[\[|<].+[\]|>])/m, // "Von: NAME <EMAIL>" OR "Von : NAME <EMAIL>" OR "Von : NAME<EMAIL>"(With support whitespace before start and before <)
  /^\s*(De\s?:.+\s?\n?\s*(\[|<).+(\]|>))/m, // "De: NAME <EMAIL>" OR "De : NAME <EMAIL>" OR "De : NAME<EMAIL>"  (With support whitespace before start and before <)
  /^\s*(Van\s?:.+\s?\n?\s*(\[|<).+(\]|>))/m, // "Van: NAME <EMAIL>" OR "Van : NAME <EMAIL>" OR "Van : NAME<EMAIL>"  (With support whitespace before start and before <)
  /^\s*(Da\s?:.+\s?\n?\s*(\[|<).+(\]|>))/m, // "Da: NAME <EMAIL>" OR "Da : NAME <EMAIL>" OR "Da : NAME<EMAIL>"  (With support whitespace before start and before <)
  /^(20[0-9]{2})-([0-9]{2}).([0-9]{2}).([0-9]{2}):([0-9]{2})\n?(.*)>:$/m, // 20YY-MM-DD HH:II GMT+01:00 NAME <EMAIL>:
  /^\s*([a-z]{3,4}\.\s[\s\S]+\sskrev\s[\s\S]+:)$/m, // DATE skrev NAME <EMAIL>:
  /^([0-9]{2}).([0-9]{2}).(20[0-9]{2})(.*)(([0-9]{2}).([0-9]{2}))(.*)\"( *)<(.*)>( *):$/m, // DD.MM.20YY HH:II NAME <EMAIL>
  /^[0-9]{2}:[0-9]{2}(.*)[0-9]{4}(.*)\"( *)<(.*)>( *):$/, // HH:II, DATE, NAME <EMAIL>:
  /^(.*)[0-9]{4}(.*)from(.*)<(.*)>:$/,
  /^-{1,12} ?(O|o)riginal (M|m)essage ?-{1,12}$/i,
  /^-{1,12} ?(O|o)prindelig (B|b)esked ?-{1,12}$/i,
  /^-{1,12} ?(M|m)essage d\'origine ?-{1,12}$/i,
  /^-{1,12} ?(U|u)rsprüngliche (N|n)achricht ?-{0,12}$/i
];

export const SIGNATURE_PATTERNS: readonly RegExp[] = [
  /^\s*-{2,4}$/, // Separator
  /^\s*_{2,4}$/, // Separator
  /^-- $/, // Separator
  /^\+{2,4}$/, // Separator
  /^\={2,4}$/, // Separator
  /^________________________________$/, // Separator
  // EN
  /^Sent from (?:\s*.+)$/, // en
  /^Get Outlook for (?:\s*.+).*/m, // en
  /^Cheers,?!?$/mi, // en
  /^Best wishes,?!?$/mi, // en
  /^\w{0,20}\s?(\sand\s)?Regards,?!?！?$/mi, //en
  // DE
  /^Von (?:\s*.+) gesendet$/, // de
  /^Gesendet von (?:\s*.+) für (?:\s*.+)$/, // de
  // DA
  /^Sendt fra (?:\s*.+)$/, // da
  // FR
  /^Envoyé depuis (?:\s*.+)$/, //fr
  /^Envoyé de mon (?:\s*.+)$/, // fr - e.g. Envoyé de mon iPhone
  /^Envoyé à partir de (?:\s*.+)$/, //fr
  /^Télécharger Outlook pour (?:\s*.+).*/m, // fr
  /^Bien . vous,?!?$/mi, // fr
  /^\w{0,20}\s?cordialement,?!?$/mi, // fr
  /^Bonne (journ.e|soir.e)!?$/mi, // fr
  // ES
  /^Enviado desde (?:\s*.+)$/, // es,
  // IT
  /^-*\s*(In\sdata\s.+\s.+\n?scritto:{0,1})\s{0,1}-*$/m, // it,
  // NL
  /^Verzonden vanaf (?:\s*.+)$/, // nl - e.g. Verzonden vanaf (Outlook voor Android<https://aka.ms/12345>|mijn iPad)
  /^Verstuurd vanaf (?:\s*.+)$/ // nl - e.g. Verstuurd vanaf mijn iPad/iPhone
];
