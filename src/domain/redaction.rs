//! Redaction of personal data in free-text notes.
//!
//! Field staff write notes in the evening, on a phone, in a hurry, and the notes must never
//! store personal data. Every note passes through [`redact`], which replaces what it recognises
//! by a Swedish marker (`[personnummer borttaget]`, …) and says which kinds it found.
//!
//! The guiding trade-off: a missed personnummer is a data-protection incident, a redacted order
//! number is a nuisance; but a redactor that removes every number makes the notes useless
//! ("15 ungdomar", "kl 21.30", "buss 873"). So every detector asks for a *shape* (and where one
//! exists a checksum), never just "enough digits". Each rule and its reason is documented at the
//! detector that implements it.
//!
//! Recognised: personnummer and samordningsnummer, telephone numbers (Swedish in their common
//! writings, and international ones written with `+`), e-mail addresses, and Swedish vehicle
//! registration numbers written in capitals. Not recognised, by design of a pattern matcher:
//! names, street addresses, personalised plates, plates written in lower case, and numbers
//! spelled out in words. The UI must still tell staff not to write those.
//!
//! Pure: no I/O, no clock, no configuration. Never panics, and is idempotent:
//! redacting a redacted note changes nothing.

use regex::Regex;
use serde::Serialize;
use std::borrow::Cow;
use std::sync::LazyLock;

/// What kind of personal data a match was.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RedactionKind {
    /// A personnummer or samordningsnummer, with 10 or 12 digits.
    PersonalIdentityNumber,
    /// A telephone number: Swedish mobile or landline, or international with `+`.
    PhoneNumber,
    /// An e-mail address.
    Email,
    /// A Swedish vehicle registration number (`ABC 123`, `ABC 12A`).
    VehicleRegistration,
}

impl RedactionKind {
    /// The marker that replaces a match in the note, in Swedish like the UI.
    pub fn marker(self) -> &'static str {
        match self {
            RedactionKind::PersonalIdentityNumber => "[personnummer borttaget]",
            RedactionKind::PhoneNumber => "[telefonnummer borttaget]",
            RedactionKind::Email => "[e-post borttagen]",
            RedactionKind::VehicleRegistration => "[registreringsnummer borttaget]",
        }
    }
}

/// A note after redaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Redacted {
    /// The note with every match replaced by its kind's marker.
    pub text: String,
    /// The kinds found: distinct, in first-seen order.
    pub kinds: Vec<RedactionKind>,
}

impl Redacted {
    /// Whether anything was replaced.
    pub fn redacted(&self) -> bool {
        !self.kinds.is_empty()
    }
}

/// Replaces personal data in free text by markers such as `[personnummer borttaget]`.
pub fn redact(note: &str) -> Redacted {
    let mut text = note.to_owned();
    let mut kinds = Vec::new();
    // Passes run until one finds nothing, so the result is a fixed point and redaction is
    // idempotent by construction: a candidate refused for its context ("2024-" before a
    // number) may stand free once that context has been replaced by a marker. This ends: every
    // match holds an ASCII digit or an `@`, markers hold neither, so each pass removes some.
    loop {
        // Matched on a normalised copy (see [`normalise`]); replaced in the text as written.
        let (normal, origin) = normalise(&text);
        let matches = find(&normal);
        if matches.is_empty() {
            break;
        }
        let mut out = String::with_capacity(text.len());
        let mut copied = 0;
        for found in &matches {
            let (start, end) = (origin[found.start], origin[found.end]);
            out.push_str(&text[copied..start]);
            out.push_str(found.kind.marker());
            copied = end;
            if !kinds.contains(&found.kind) {
                kinds.push(found.kind);
            }
        }
        out.push_str(&text[copied..]);
        text = out;
    }
    Redacted { text, kinds }
}

/// The text as the detectors read it, and for each of its bytes (and its end) the byte of the
/// text it came from. Phones and keyboards write numbers with more than ASCII: a no-break space
/// or a narrow no-break space between digit groups (`070\u{a0}123\u{a0}45\u{a0}67`), an en or em
/// dash, a non-breaking hyphen or a minus sign for the hyphen, full-width digits, `＋` and `＠`
/// from an East Asian keyboard; and a zero-width space or a soft hyphen hides inside a number
/// unseen. Every space separator becomes a space, every dash a hyphen, full-width digits and signs
/// their ASCII forms, and the invisible characters are left out; the rest is read as written.
fn normalise(text: &str) -> (Cow<'_, str>, Vec<usize>) {
    if text.is_ascii() {
        return (Cow::Borrowed(text), (0..=text.len()).collect());
    }
    let mut normal = String::with_capacity(text.len());
    let mut origin = Vec::with_capacity(text.len() + 1);
    for (at, c) in text.char_indices() {
        let read = match c {
            '\u{a0}' | '\u{1680}' | '\u{2000}'..='\u{200a}' | '\u{202f}' | '\u{205f}' | '\u{3000}' => Some(' '),
            '\u{2010}'..='\u{2015}' | '\u{2212}' | '\u{fe58}' | '\u{fe63}' | '\u{ff0d}' => Some('-'),
            '\u{ff10}'..='\u{ff19}' => char::from_u32(u32::from(c) - 0xff10 + u32::from('0')),
            '\u{ff0b}' => Some('+'),
            '\u{ff20}' => Some('@'),
            '\u{ff08}' => Some('('),
            '\u{ff09}' => Some(')'),
            '\u{200b}'..='\u{200d}' | '\u{2060}' | '\u{feff}' | '\u{ad}' => None,
            other => Some(other),
        };
        if let Some(read) = read {
            let mut buffer = [0; 4];
            for _ in read.encode_utf8(&mut buffer).bytes() {
                origin.push(at);
            }
            normal.push(read);
        }
    }
    origin.push(text.len());
    (Cow::Owned(normal), origin)
}

/// One match: a byte range of the text and what it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Match {
    start: usize,
    end: usize,
    kind: RedactionKind,
}

/// Every match in the text, not overlapping, in text order.
///
/// Detectors run in priority order and a later one's candidate that overlaps an earlier match
/// is dropped: an e-mail address may hold digits that look like a phone number, a personnummer
/// written without separator looks like a phone number, and `TEL 070` looks like a plate.
fn find(text: &str) -> Vec<Match> {
    let detectors: [fn(&str) -> Vec<Match>; 4] =
        [emails, personal_identity_numbers, phone_numbers, vehicle_registrations];
    let mut taken: Vec<Match> = Vec::new();
    for detect in detectors {
        for candidate in detect(text) {
            if taken.iter().all(|t| candidate.end <= t.start || t.end <= candidate.start) {
                taken.push(candidate);
            }
        }
    }
    taken.sort_by_key(|m| m.start);
    taken
}

// ---------------------------------------------------------------------------------------------
// E-mail addresses

/// A pragmatic address: a local part, `@`, a domain with at least one dot and a top-level
/// domain of letters. Letters are Unicode (`örjan@föreningen.se`); a dot ending a sentence is
/// not part of the address.
static EMAIL: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"[\p{L}\p{N}._%+'\-]+@[\p{L}\p{N}\-]+(?:\.[\p{L}\p{N}\-]+)*\.\p{L}{2,}").expect("valid regex")
});

fn emails(text: &str) -> Vec<Match> {
    EMAIL.find_iter(text).map(|m| Match { start: m.start(), end: m.end(), kind: RedactionKind::Email }).collect()
}

// ---------------------------------------------------------------------------------------------
// Personnummer and samordningsnummer

/// The written shapes: `YYMMDD-NNNN`, `YYMMDD+NNNN` (100 years or older), `YYMMDDNNNN`,
/// `YYYYMMDD-NNNN`, `YYYYMMDDNNNN`, and either with a space for the separator. The digit run
/// must not continue on either side; letters may touch it (`pnr:811218-9876`).
static PERSONAL_IDENTITY_NUMBER: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"([0-9]{8}|[0-9]{6})([-+ ]?)([0-9]{4})").expect("valid regex"));

fn personal_identity_numbers(text: &str) -> Vec<Match> {
    let mut found = Vec::new();
    let mut at = 0;
    while let Some(caps) = PERSONAL_IDENTITY_NUMBER.captures_at(text, at) {
        let whole = caps.get(0).expect("group 0 always matches");
        let (date, separator, serial) = (&caps[1], &caps[2], &caps[3]);
        let bounded = !text[..whole.start()].ends_with(|c: char| c.is_ascii_digit())
            && !text[whole.end()..].starts_with(|c: char| c.is_ascii_digit());
        if bounded
            && is_personal_identity_number(date, separator, serial)
            && !is_phone_number_in_context(text, whole.start(), whole.end(), date, separator, serial)
        {
            found.push(Match { start: whole.start(), end: whole.end(), kind: RedactionKind::PersonalIdentityNumber });
            at = whole.end();
        } else {
            // The match starts with an ASCII digit, so one byte on is a character boundary.
            at = whole.start() + 1;
        }
    }
    found
}

/// Whether the parts form a personnummer or samordningsnummer.
///
/// The date must exist (samordningsnummer: day + 60) and the check digit must pass the Luhn
/// algorithm over the 10-digit form, so that digit runs, order numbers and dates stay.
///
/// One exception, decided on purpose: a number written in the exact personnummer shape with its
/// separator (`YYMMDD-NNNN`, `YYMMDD+NNNN`, `YYYYMMDD-NNNN`) and a real date is taken even when
/// its check digit fails. A mistyped personnummer still identifies a person (with one digit
/// wrong it is one of ten people born that day, and usually the reader can tell which); nothing
/// else in these notes is written in that shape with a valid birth date; and the cost of being
/// wrong is asymmetric: over-redacting a reference number loses little, keeping a personnummer
/// is a data-protection incident. Without the separator, or with a space, the checksum is still
/// required, because bare 10-digit runs are phone numbers, order numbers and invoice numbers.
fn is_personal_identity_number(date: &str, separator: &str, serial: &str) -> bool {
    let (year, short_date) = if date.len() == 8 {
        if !matches!(&date[..2], "18" | "19" | "20") {
            return false;
        }
        (Some(number(&date[..4])), &date[2..])
    } else {
        (None, date)
    };
    let (yy, month, day) = (number(&short_date[..2]), number(&short_date[2..4]), number(&short_date[4..6]));
    if !is_birth_date(year, yy, month, day) {
        return false;
    }
    let exact_shape = matches!((date.len(), separator), (6, "-" | "+") | (8, "-"));
    exact_shape || luhn_valid(short_date.bytes().chain(serial.bytes()))
}

/// Whether the month and day exist. A samordningsnummer adds 60 to the day. With only two
/// digits of year the century is unknown, so 29 February is allowed in every year divisible by 4.
fn is_birth_date(year: Option<u32>, yy: u32, month: u32, day: u32) -> bool {
    let day = if day > 60 { day - 60 } else { day };
    let leap = match year {
        Some(y) => (y.is_multiple_of(4) && !y.is_multiple_of(100)) || y.is_multiple_of(400),
        None => yy.is_multiple_of(4),
    };
    let days = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return false,
    };
    (1..=days).contains(&day)
}

/// The Luhn check over ASCII digits, weights 2, 1, 2, … from the left (10 digits).
fn luhn_valid(digits: impl Iterator<Item = u8>) -> bool {
    let sum: u32 = digits
        .enumerate()
        .map(|(i, b)| {
            let d = u32::from(b - b'0') * if i % 2 == 0 { 2 } else { 1 };
            d / 10 + d % 10
        })
        .sum();
    sum.is_multiple_of(10)
}

/// Two or more ASCII digits as a number.
fn number(digits: &str) -> u32 {
    digits.bytes().fold(0, |n, b| n * 10 + u32::from(b - b'0'))
}

/// Whether a bare 10-digit personnummer candidate is, read in its context, a phone number.
///
/// `0701234569` is a valid personnummer (born 23 January 2007: the age of the youths in these
/// notes) and a valid mobile number. Either way it is redacted; only the marker differs. Left
/// alone the personnummer reading wins, unless a phone word (`tel`, `mobil`, `ring`, …) stands
/// shortly before it and no personnummer word (`pnr`, `född`, …) does.
fn is_phone_number_in_context(text: &str, start: usize, end: usize, date: &str, separator: &str, serial: &str) -> bool {
    if date.len() != 6 || !separator.is_empty() || !date.starts_with('0') {
        return false;
    }
    let digits = format!("{date}{serial}");
    let phone_shaped = digits.as_bytes()[1] != b'0' && swedish_number_valid(&digits[1..], None);
    if !phone_shaped || !starts_token(text, start) || !ends_token(text, end) {
        return false;
    }
    let before: Vec<char> = text[..start].chars().rev().take(32).collect();
    let before: String = before.into_iter().rev().collect::<String>().to_lowercase();
    const PERSONAL_WORDS: [&str; 5] = ["pnr", "personnummer", "pers.nr", "persnr", "född"];
    const PHONE_WORDS: [&str; 7] = ["tel", "tfn", "mobil", "ring", "sms", "swish", "nås på"];
    !PERSONAL_WORDS.iter().any(|w| before.contains(w)) && PHONE_WORDS.iter().any(|w| before.contains(w))
}

// ---------------------------------------------------------------------------------------------
// Telephone numbers

/// How a phone number candidate begins.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Prefix {
    /// `0…`, or `(0…)` around the area code: a Swedish number in national form.
    National,
    /// `+46` or `0046`: a Swedish number in international form.
    Sweden,
    /// `+` and another country code.
    Foreign,
}

/// Phone numbers, found by a small hand-written parser rather than a regex, because the
/// decision needs the digit groups: a candidate is a run of digit groups joined by single
/// spaces or hyphens, and the longest leading run of whole groups that makes a valid number is
/// taken (`070-123 45 67 08-12 34 56` is two numbers, not twelve digits that fit neither).
///
/// A number must begin like one: `0` and a non-zero digit, `+46`, `0046`, `+` and a country
/// code, or `(0…)`. That alone keeps times, dates, years, counts, street numbers, postal codes,
/// money and ranges (`18:30`, `2024-06-12`, `15 ungdomar`, `135 40`, `13-15 år`), none of which
/// start with a zero. The zero-led look-alikes are handled by the rules in
/// [`swedish_number_valid`] and by refusing to start inside another number (`2024-06-12`: the
/// `06` follows `4-`).
fn phone_numbers(text: &str) -> Vec<Match> {
    let bytes = text.as_bytes();
    let mut found = Vec::new();
    let mut at = 0;
    while at < bytes.len() {
        // Only ASCII bytes are tested, so `at` is a character boundary whenever it is used.
        // A number right after the previous one and one separator (`070-… 67-08-…`) starts a
        // token although a digit stands before the separator: that digit ends a number found.
        let follows_previous = found.last().is_some_and(|previous: &Match| previous.end + 1 == at);
        if matches!(bytes[at], b'+' | b'0' | b'(')
            && (follows_previous || starts_token(text, at))
            && let Some(end) = phone_number_at(text, at)
        {
            found.push(Match { start: at, end, kind: RedactionKind::PhoneNumber });
            at = end;
            continue;
        }
        at += 1;
    }
    found
}

/// Whether a token may start at byte `at`: not inside a word, and not continuing a number
/// (`2024-06`, `12/06`, `21.30`, `18:30`, `1+1`).
fn starts_token(text: &str, at: usize) -> bool {
    let mut before = text[..at].chars().rev();
    match before.next() {
        None => true,
        Some(c) if c.is_alphanumeric() || c == '_' => false,
        Some('-' | '/' | '.' | ':' | '+') => !before.next().is_some_and(|c| c.is_ascii_digit()),
        Some(_) => true,
    }
}

/// Whether a token may end at byte `end`: not followed by a letter or digit.
fn ends_token(text: &str, end: usize) -> bool {
    !text[end..].starts_with(|c: char| c.is_alphanumeric() || c == '_')
}

/// The end of the phone number starting at byte `start`, if one does.
fn phone_number_at(text: &str, start: usize) -> Option<usize> {
    let b = text.as_bytes();
    let digit = |i: usize| b.get(i).is_some_and(u8::is_ascii_digit);
    let nonzero = |i: usize| b.get(i).is_some_and(|c| (b'1'..=b'9').contains(c));
    let separator = |i: usize| matches!(b.get(i), Some(b' ' | b'-'));
    let rest = &b[start..];

    let parenthesised = rest.starts_with(b"(0") && nonzero(start + 2);
    let (prefix, mut at) = if rest.starts_with(b"+46") {
        (Prefix::Sweden, start + 3)
    } else if rest.starts_with(b"0046") {
        (Prefix::Sweden, start + 4)
    } else if rest[0] == b'+' && nonzero(start + 1) {
        (Prefix::Foreign, start + 1)
    } else if rest[0] == b'0' && nonzero(start + 1) {
        (Prefix::National, start)
    } else if parenthesised {
        (Prefix::National, start + 1)
    } else {
        return None;
    };
    if prefix == Prefix::Sweden {
        if separator(at) {
            at += 1;
        }
        if b[at..].starts_with(b"(0)") {
            // `+46 (0)70-123 45 67`
            at += 3;
            if separator(at) {
                at += 1;
            }
        } else if b.get(at) == Some(&b'0') {
            // `+46 070-…`: a trunk zero kept by mistake.
            at += 1;
        }
        if !nonzero(at) {
            return None;
        }
    }

    // The digit groups, as byte ranges. No number has more than 15 digits, so collecting
    // stops past that: a note of `01 01 01 …` costs linear time, not quadratic.
    let mut groups: Vec<(usize, usize)> = Vec::new();
    let mut digit_count = 0;
    loop {
        let group_start = at;
        while digit(at) {
            at += 1;
        }
        groups.push((group_start, at));
        digit_count += at - group_start;
        if digit_count > 15 {
            break;
        }
        if parenthesised && groups.len() == 1 {
            // `(08) 123 45 67`: the area code closes with `)`, and the number goes on.
            if b.get(at) != Some(&b')') {
                return None;
            }
            at += 1;
            if b.get(at) == Some(&b' ') {
                at += 1;
            }
            if !digit(at) {
                return None;
            }
            continue;
        }
        if separator(at) && digit(at + 1) {
            at += 1;
        } else {
            break;
        }
    }

    (1..=groups.len()).rev().find_map(|count| {
        let end = groups[count - 1].1;
        let digits: String = groups[..count].iter().map(|&(s, e)| &text[s..e]).collect();
        let lengths: Vec<usize> = groups[..count].iter().map(|&(s, e)| e - s).collect();
        (ends_token(text, end) && phone_groups_valid(prefix, &digits, &lengths)).then_some(end)
    })
}

/// Whether digit groups after a prefix form a phone number.
fn phone_groups_valid(prefix: Prefix, digits: &str, lengths: &[usize]) -> bool {
    // Only the first group (area or country code) may be one digit long: "070 1 23" is not
    // how anyone writes a number, but "+46 8 …" and "+1 555 …" are.
    if lengths[1..].iter().any(|&n| n < 2) {
        return false;
    }
    let area = |len: usize| (lengths.len() > 1).then_some(len);
    match prefix {
        // E.164 allows up to 15 digits with the country code; 8 keeps short codes out.
        Prefix::Foreign => (8..=15).contains(&digits.len()),
        // The national form's digits start with the trunk zero.
        Prefix::National => swedish_number_valid(&digits[1..], area(lengths[0] - 1)),
        Prefix::Sweden => swedish_number_valid(digits, area(lengths[0])),
    }
}

/// Whether a Swedish national significant number (without trunk zero or `+46`) is valid.
/// `area` is the length of the area code when the writer separated it from the rest.
///
/// Mobiles (`70`, `72`, `73`, `76`, `79`) have 9 digits. Other numbers have 7 to 9 (Stockholm's
/// `08-12 34 56` has 7). When the area code stands apart, its shape is checked: 1 to 3 digits,
/// and only Stockholm's is 1 digit (`08`); and the subscriber number after it never starts
/// with 0. Those two rules keep dates such as `06-12 …` and `08-06-2024` out.
fn swedish_number_valid(nsn: &str, area: Option<usize>) -> bool {
    if ["70", "72", "73", "76", "79"].iter().any(|mobile| nsn.starts_with(mobile)) {
        return nsn.len() == 9;
    }
    if !(7..=9).contains(&nsn.len()) {
        return false;
    }
    match area {
        None => true,
        Some(len) => (1..=3).contains(&len) && (len > 1 || nsn.starts_with('8')) && nsn.as_bytes()[len] != b'0',
    }
}

// ---------------------------------------------------------------------------------------------
// Vehicle registration numbers

/// Three letters, then two digits and a digit or (since 2019) a letter, with a space, a hyphen
/// or nothing between. Ordinary Swedish plates never use I, Q or V (nor Å, Ä, Ö), so those are
/// excluded, which also keeps many ordinary words out (`VID`, `MIN`, `SIG`). W is used. The
/// final letter is allowed to be O although it is probably not issued there: accepting it costs
/// nothing.
///
/// The letters must be capitals, as people write plates: in lower case `kl 22`, `nr 5`,
/// `bus 873`, `hus 123` and `tog 200 kr` would all be at risk. So `abc 123` is left alone, a
/// known gap. Personalised plates (free text of 2 to 7 characters) cannot be told from words.
static VEHICLE_REGISTRATION: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\b([A-HJ-PR-UW-Z]{3})[ -]?[0-9]{2}[0-9A-HJ-PR-UW-Z]\b").expect("valid regex"));

/// Capitalised words that precede numbers in notes and have plate-shaped letters: `SMS 112`
/// (the text service for people who cannot call), `SOS 112`, `TEL 112`.
const NOT_PLATES: [&str; 3] = ["SMS", "SOS", "TEL"];

fn vehicle_registrations(text: &str) -> Vec<Match> {
    VEHICLE_REGISTRATION
        .captures_iter(text)
        .filter(|caps| !NOT_PLATES.contains(&&caps[1]))
        .map(|caps| {
            let whole = caps.get(0).expect("group 0 always matches");
            Match { start: whole.start(), end: whole.end(), kind: RedactionKind::VehicleRegistration }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const PNR: RedactionKind = RedactionKind::PersonalIdentityNumber;
    const TEL: RedactionKind = RedactionKind::PhoneNumber;
    const MAIL: RedactionKind = RedactionKind::Email;
    const REG: RedactionKind = RedactionKind::VehicleRegistration;

    /// Notes with personal data: the note, the exact expected text, the expected kinds.
    const POSITIVE: &[(&str, &str, &[RedactionKind])] = &[
        (
            "Kille ca 16 år, sa att han heter X, tel 070-123 45 67",
            "Kille ca 16 år, sa att han heter X, tel [telefonnummer borttaget]",
            &[TEL],
        ),
        (
            "Bil med reg ABC 123 körde runt skolan flera varv",
            "Bil med reg [registreringsnummer borttaget] körde runt skolan flera varv",
            &[REG],
        ),
        ("Mamman hörde av sig: anna.svensson@example.se", "Mamman hörde av sig: [e-post borttagen]", &[MAIL]),
        ("Personnummer 811218-9876 nämndes", "Personnummer [personnummer borttaget] nämndes", &[PNR]),
        (
            // Check digit fails (should be 5), but written in the exact shape: still taken.
            "Killen uppgav sitt personnummer 050612-1234 men siffrorna stämde inte riktigt",
            "Killen uppgav sitt personnummer [personnummer borttaget] men siffrorna stämde inte riktigt",
            &[PNR],
        ),
        (
            "Pnr 0506121235 lämnades till socialjouren",
            "Pnr [personnummer borttaget] lämnades till socialjouren",
            &[PNR],
        ),
        (
            "Tjejen är född 20050612-1235, kontakt tagen med skolkurator",
            "Tjejen är född [personnummer borttaget], kontakt tagen med skolkurator",
            &[PNR],
        ),
        (
            "Äldre man på bänken, sa pnr 231105+9873, verkade förvirrad, hemtjänsten kontaktad",
            "Äldre man på bänken, sa pnr [personnummer borttaget], verkade förvirrad, hemtjänsten kontaktad",
            &[PNR],
        ),
        (
            "Ensamkommande kille, samordningsnummer 990672-1239, bor på HVB",
            "Ensamkommande kille, samordningsnummer [personnummer borttaget], bor på HVB",
            &[PNR],
        ),
        ("Pnr 811218 9876 enligt mamman", "Pnr [personnummer borttaget] enligt mamman", &[PNR]),
        (
            "Lämnade 200506121235 till polisen på plats",
            "Lämnade [personnummer borttaget] till polisen på plats",
            &[PNR],
        ),
        ("Uppgav 19811218-9876 som sitt personnummer", "Uppgav [personnummer borttaget] som sitt personnummer", &[PNR]),
        (
            "Ring mamman på 070 123 45 67 om han inte kommer hem",
            "Ring mamman på [telefonnummer borttaget] om han inte kommer hem",
            &[TEL],
        ),
        ("Pappan nås på 0701234567 efter kl 17", "Pappan nås på [telefonnummer borttaget] efter kl 17", &[TEL]),
        (
            "Fick nummer +46 70 123 45 67 av tjejen, hon vill bli uppringd i morgon",
            "Fick nummer [telefonnummer borttaget] av tjejen, hon vill bli uppringd i morgon",
            &[TEL],
        ),
        (
            "Kompisen skrev sitt nr +46701234567 på en lapp",
            "Kompisen skrev sitt nr [telefonnummer borttaget] på en lapp",
            &[TEL],
        ),
        (
            "Grannen ringde från 08-12 34 56 och klagade på musiken",
            "Grannen ringde från [telefonnummer borttaget] och klagade på musiken",
            &[TEL],
        ),
        (
            "Fritidsledaren har 08-123 456 78 som jobbnummer, men privat 073-987 65 43",
            "Fritidsledaren har [telefonnummer borttaget] som jobbnummer, men privat [telefonnummer borttaget]",
            &[TEL],
        ),
        (
            "Storebror nås på 0046 70 123 45 67 när han är utomlands",
            "Storebror nås på [telefonnummer borttaget] när han är utomlands",
            &[TEL],
        ),
        ("Moster har norskt nummer +47 912 34 567", "Moster har norskt nummer [telefonnummer borttaget]", &[TEL]),
        (
            "Pojkens mobil 072-345 67 89, mammans 0731234567",
            "Pojkens mobil [telefonnummer borttaget], mammans [telefonnummer borttaget]",
            &[TEL],
        ),
        (
            "Tel (08) 123 45 67 till boendet, fråga efter nattpersonalen",
            "Tel [telefonnummer borttaget] till boendet, fråga efter nattpersonalen",
            &[TEL],
        ),
        (
            "Skolans kurator +46 (0)70-123 45 67 vill bli kontaktad",
            "Skolans kurator [telefonnummer borttaget] vill bli kontaktad",
            &[TEL],
        ),
        (
            "Pappa ringde från 070-1234567 kl 22.40, orolig",
            "Pappa ringde från [telefonnummer borttaget] kl 22.40, orolig",
            &[TEL],
        ),
        (
            "Fick sms från 0761234567 kl 01.10 med hot",
            "Fick sms från [telefonnummer borttaget] kl 01.10 med hot",
            &[TEL],
        ),
        (
            "Ringde 112. Anmälare Lisa, 070-987 65 43, bor i trapphus 3",
            "Ringde 112. Anmälare Lisa, [telefonnummer borttaget], bor i trapphus 3",
            &[TEL],
        ),
        (
            // Valid both as a personnummer and as a mobile number; the phone word decides.
            "Tel 0701234569 till killen",
            "Tel [telefonnummer borttaget] till killen",
            &[TEL],
        ),
        ("Killens pnr är 0701234569", "Killens pnr är [personnummer borttaget]", &[PNR]),
        (
            "Väktare noterade MLB 84A parkerad på gångvägen vid förskolan",
            "Väktare noterade [registreringsnummer borttaget] parkerad på gångvägen vid förskolan",
            &[REG],
        ),
        (
            "Vit skåpbil GHJ123 stod med motorn igång i en timme",
            "Vit skåpbil [registreringsnummer borttaget] stod med motorn igång i en timme",
            &[REG],
        ),
        (
            "Mopedbilen hade skylten WER-84B, kör vårdslöst på cykelbanan",
            "Mopedbilen hade skylten [registreringsnummer borttaget], kör vårdslöst på cykelbanan",
            &[REG],
        ),
        (
            "Bil BCD 456 och mc XYZ 78C körde ikapp på Granängsvägen",
            "Bil [registreringsnummer borttaget] och mc [registreringsnummer borttaget] körde ikapp på Granängsvägen",
            &[REG],
        ),
        (
            "Samma kille med ABC 123-bilen igen, tredje kvällen i rad",
            "Samma kille med [registreringsnummer borttaget]-bilen igen, tredje kvällen i rad",
            &[REG],
        ),
        (
            "Mejla kuratorn på KALLE.KARLSSON@SKOLAN.SE inför mötet",
            "Mejla kuratorn på [e-post borttagen] inför mötet",
            &[MAIL],
        ),
        (
            "Örjan på föreningen: örjan.åberg@föreningen.se, vill ha rapporten",
            "Örjan på föreningen: [e-post borttagen], vill ha rapporten",
            &[MAIL],
        ),
        (
            "Tjej 15 år, pnr 050612-1235, mammans nr 070-123 45 67",
            "Tjej 15 år, pnr [personnummer borttaget], mammans nr [telefonnummer borttaget]",
            &[PNR, TEL],
        ),
        (
            "Mamman (anna@example.se, 070-555 12 34) vill ha återkoppling",
            "Mamman ([e-post borttagen], [telefonnummer borttaget]) vill ha återkoppling",
            &[MAIL, TEL],
        ),
        (
            "Kille 17 år i BCD 456, pnr 811218-9876, ring 070-555 12 34. Mejl kalle17@example.com.",
            "Kille 17 år i [registreringsnummer borttaget], pnr [personnummer borttaget], ring [telefonnummer borttaget]. Mejl [e-post borttagen].",
            &[REG, PNR, TEL, MAIL],
        ),
    ];

    /// Notes without personal data: they must come back unchanged.
    const NEGATIVE: &[&str] = &[
        "Ca 15 ungdomar samlade vid Granängstorget kl 21.30, lugn stämning",
        "Möte 2024-06-12 kl 18:30 på fritidsgården",
        "Möte 2024-06-12 08:30 med rektor om skolgården",
        "Grupp på 8-10 killar, 13-15 år, vid Granängsringen 45",
        "Adress Granängsringen 45, 135 40 Tyresö",
        "Postnummer 135 54 och 135 60 ingår i området",
        "Tog buss 873 mot Slussen kl 22.15, lugnt på bussen",
        "Bussarna linje 401 och 873 stod still i 15 min",
        "Buss 873 och 875, hållplats Tyresö C läge B",
        "Lånade ut 500 kr till kiosken, ska betalas tillbaka 12/6",
        "Insatsen pågick 2 h 45 min, mellan 18-24 var flest ute",
        "Rapport för 2024-T2 skickad till samordnaren",
        "Ordernr 1234567890 för nya reflexvästar",
        "Ordernummer 8112189875 på beställningen",
        "Fakturanr 5506121235 gäller hyran av lokalen",
        "Kvitto nr 0012345678 sparat i pärmen",
        "Polisens ärendenummer 5000-K123456-24 ska följas upp",
        "Swish 123 456 78 90 till föreningens kaffekassa",
        "Tipsade om SMS 112 för den döva killen",
        "Larmade SOS 112 kl 23.40, ambulansen kom 23.55",
        "Ringde 114 14 för att anmäla skadegörelsen",
        "Klotter på hus 12 och nr 5 på Skolvägen, kl 22 var det tomt",
        "KL 22 SAMLADES CA 20 UNGDOMAR VID ICA",
        "Ca 30 pers i åldern 16-19, ingen alkohol synlig",
        "Tjejerna var 13-14 år, killarna 15-16",
        "Vecka 24: 18-24 år var största gruppen, 35 st",
        "Skadegörelse: 3 fönster, kostnad ca 15 000 kr",
        "År 2023 hade vi 120 incidenter, i år 87 hittills",
        "Mellan 2019 och 2024 har antalet anmälningar ökat",
        "Pass 18.00-23.00, 4 väktare och 2 fältassistenter",
        "Kl 21:30-22:15 lugnt, 22.30 bråk vid kiosken",
        "Kl 19.45 – 20.30, 6 tjejer och 4 killar vid skateparken",
        "Passet startade 1630 och slutade 2345",
        "Stationen öppnar 06.00 och stänger 01.00",
        "Hemtjänsten kommer 07.30 och 21.00",
        "Mötet 08-06-2024 flyttas till nästa vecka",
        "Trapphus 3B, lgh 1102, nytt klotter på väggen",
        "Lägenhet 1201, våning 12, port 3",
        "Minus 5 grader, 20 cm snö, få ute",
        "Skolan har årskurs 7-9, ca 450 elever",
        "Appen version 1.4.2 hängde sig två gånger",
        "EU-moped klass 1, max 45 km/h, ingen hjälm",
        "Gruppen flyttade till 7-Eleven kl 22 och sedan till Max",
        "Ungefär 100-150 personer på Valborg vid slottet",
        "Nattvandrarna var 12 st i 3 grupper om 4",
        "Fältarna gick 12 km på 3 h 20 min",
    ];

    // The corpus may grow but not shrink below what the rules were tuned on; checked when the
    // tests compile, not claimed by a test.
    const _: () = assert!(POSITIVE.len() >= 30 && NEGATIVE.len() >= 30);

    /// The note written as a phone or another keyboard may write it.
    fn written_with(note: &str, variant: usize) -> String {
        note.chars()
            .flat_map(|c| {
                let replaced: Vec<char> = match (variant, c) {
                    (0, ' ') => vec!['\u{a0}'],
                    (1, ' ') => vec!['\u{202f}'],
                    (2, '-') => vec!['\u{2011}'],
                    (3, '-') => vec!['\u{2013}'],
                    (4, '-') => vec!['\u{2014}'],
                    (5, '0'..='9') => vec![char::from_u32(u32::from(c) - u32::from('0') + 0xff10).unwrap_or(c)],
                    (6, '0'..='9') => vec![c, '\u{200b}'],
                    (7, '+') => vec!['\u{ff0b}'],
                    (7, '@') => vec!['\u{ff20}'],
                    _ => vec![c],
                };
                replaced
            })
            .collect()
    }

    #[test]
    fn personal_data_written_with_unicode_spaces_dashes_full_width_or_invisible_characters_is_found() {
        let mut failures = Vec::new();
        for &(note, _, kinds) in POSITIVE {
            for variant in 0..8 {
                let written = written_with(note, variant);
                let got = redact(&written);
                if got.kinds != kinds {
                    failures.push(format!("{written:?}\n  got: {got:?}\n  want kinds {kinds:?}"));
                }
            }
        }
        assert!(failures.is_empty(), "{} failed:\n{}", failures.len(), failures.join("\n"));
    }

    #[test]
    fn text_around_a_match_is_kept_as_written() {
        let note = "Ring\u{a0}070\u{a0}123\u{a0}45\u{a0}67\u{a0}– kl\u{202f}21";
        assert_eq!(redact(note).text, "Ring\u{a0}[telefonnummer borttaget]\u{a0}– kl\u{202f}21");
        let hidden = "pnr 811218\u{2011}98\u{200b}76 klar";
        assert_eq!(redact(hidden).text, "pnr [personnummer borttaget] klar");
    }

    #[test]
    fn unicode_writings_of_plain_numbers_stay_untouched() {
        for &note in NEGATIVE {
            for variant in 0..7 {
                let written = written_with(note, variant);
                let got = redact(&written);
                assert!(!got.redacted() && got.text == written, "{written:?}: {got:?}");
            }
        }
    }

    #[test]
    fn notes_with_personal_data_are_redacted_exactly() {
        let failures: Vec<String> = POSITIVE
            .iter()
            .filter_map(|&(note, text, kinds)| {
                let got = redact(note);
                let want = Redacted { text: text.to_owned(), kinds: kinds.to_vec() };
                (got != want).then(|| format!("{note}\n  got:  {got:?}\n  want: {want:?}"))
            })
            .collect();
        assert!(failures.is_empty(), "{} of {} failed:\n{}", failures.len(), POSITIVE.len(), failures.join("\n"));
    }

    #[test]
    fn notes_without_personal_data_are_untouched() {
        let failures: Vec<String> = NEGATIVE
            .iter()
            .filter_map(|&note| {
                let got = redact(note);
                (got.text != note || got.redacted()).then(|| format!("{note}\n  got: {got:?}"))
            })
            .collect();
        assert!(failures.is_empty(), "{} of {} failed:\n{}", failures.len(), NEGATIVE.len(), failures.join("\n"));
    }

    #[test]
    fn the_test_numbers_are_what_the_corpus_says_they_are() {
        let luhn = |s: &str| luhn_valid(s.bytes());
        assert!(luhn("8112189876"));
        assert!(luhn("0506121235"));
        assert!(!luhn("0506121234"));
        assert!(luhn("9906721239"));
        assert!(luhn("2311059873"));
        assert!(luhn("0701234569"));
        assert!(!luhn("0701234567"));
        assert!(!luhn("8112189875"));
        assert!(!luhn("5506121235"));
    }

    #[test]
    fn a_failing_check_digit_is_accepted_only_in_the_exact_separated_shape() {
        // 050612-1234 fails the Luhn check (the check digit should be 5).
        assert_eq!(redact("050612-1234").kinds, [PNR]);
        assert_eq!(redact("050612+1234").kinds, [PNR]);
        assert_eq!(redact("20050612-1234").kinds, [PNR]);
        // Without the separator, or with a space, the checksum is required.
        assert!(!redact("Ärende 5506121235").redacted());
        assert!(!redact("Ärende 050612 1234").redacted());
        assert!(!redact("Ärende 200506121234").redacted());
        // The date must exist even in the exact shape.
        assert!(!redact("Ärende 051312-1234").redacted());
        assert!(!redact("Ärende 050231-1234").redacted());
        assert!(!redact("Ärende 050645-1234").redacted());
        assert!(!redact("Ärende 17050612-1234").redacted());
    }

    #[test]
    fn birth_dates_follow_the_calendar_and_coordination_days() {
        assert!(is_birth_date(None, 5, 6, 12));
        assert!(is_birth_date(None, 5, 6, 72), "samordningsnummer: day + 60");
        assert!(is_birth_date(None, 4, 2, 29));
        assert!(is_birth_date(None, 4, 2, 89));
        assert!(!is_birth_date(None, 5, 2, 29));
        assert!(!is_birth_date(Some(1900), 0, 2, 29));
        assert!(is_birth_date(Some(2000), 0, 2, 29));
        assert!(!is_birth_date(None, 5, 0, 12));
        assert!(!is_birth_date(None, 5, 13, 12));
        assert!(!is_birth_date(None, 5, 6, 0));
        assert!(!is_birth_date(None, 5, 6, 31));
        assert!(!is_birth_date(None, 5, 6, 45));
        assert!(!is_birth_date(None, 5, 6, 92));
    }

    #[test]
    fn a_personnummer_inside_a_longer_digit_run_is_not_cut_out_of_it() {
        assert!(!redact("Serienummer 1198112189876").redacted());
        assert!(!redact("Serienummer 811218-98761").redacted());
    }

    #[test]
    fn a_bare_ten_digit_number_is_a_personnummer_unless_a_phone_word_precedes_it() {
        assert_eq!(redact("Killen 0701234569").kinds, [PNR]);
        assert_eq!(redact("Mobil: 0701234569").kinds, [TEL]);
        assert_eq!(redact("Ring pnr-ägaren, pnr 0701234569").kinds, [PNR]);
    }

    #[test]
    fn the_phone_written_writings_of_the_brief_are_all_found() {
        for phone in [
            "070-123 45 67",
            "0701234567",
            "070 123 45 67",
            "+46 70 123 45 67",
            "+46701234567",
            "08-123 456 78",
            "08-12 34 56",
            "0046 70 123 45 67",
            "+46 8 123 456 78",
            "+46-70-123 45 67",
            "+46 070-123 45 67",
            "0480-123 45",
            "031-12 34 56",
            "0771-567 567",
            "+1 555 123 4567",
        ] {
            let got = redact(&format!("Nr {phone}, ring ikväll"));
            assert_eq!(got.text, "Nr [telefonnummer borttaget], ring ikväll", "{phone}");
            assert_eq!(got.kinds, [TEL], "{phone}");
        }
    }

    #[test]
    fn phone_like_numbers_without_phone_shape_stay() {
        for text in [
            "18:30",
            "kl 22.15",
            "2024-06-12",
            "12/6",
            "2024",
            "15 ungdomar",
            "Granängsringen 45",
            "135 40 Tyresö",
            "500 kr",
            "2 h 45 min",
            "13-15 år",
            "06-12 12 34",
            "08-06-2024",
            "01-02-2024",
            "070-123",
            "070123456789",
            "0701234567kr",
            "+5 grader",
            "+15 grader",
            "0 - 3 år",
        ] {
            assert!(!redact(text).redacted(), "{text}: {:?}", redact(text));
        }
    }

    #[test]
    fn two_numbers_in_a_row_are_two_numbers() {
        let got = redact("070-123 45 67 08-12 34 56");
        assert_eq!(got.text, "[telefonnummer borttaget] [telefonnummer borttaget]");
        // A trailing count after a complete mobile number is left alone.
        assert_eq!(redact("070-123 45 67 15 st").text, "[telefonnummer borttaget] 15 st");
        // Joined by a hyphen, the second still counts as a number of its own.
        assert_eq!(redact("070-123 45 67-08-12 34 56").text, "[telefonnummer borttaget]-[telefonnummer borttaget]");
    }

    #[test]
    fn long_and_repetitive_notes_are_handled_in_linear_passes() {
        // Each of these would cost quadratic time with a naive scan or a pass per number.
        let chain = "070-123 45 67-".repeat(5_000);
        let got = redact(&chain);
        assert_eq!(got.text, "[telefonnummer borttaget]-".repeat(5_000));
        let mixed = "ABC 123-070 123 45 67-811218-9876-".repeat(2_000);
        let got = redact(&mixed);
        assert_eq!(
            got.text,
            "[registreringsnummer borttaget]-[telefonnummer borttaget]-[personnummer borttaget]-".repeat(2_000)
        );
        let pairs = "01 ".repeat(30_000);
        assert!(!redact(&pairs).redacted());
        let digits = "1".repeat(100_000);
        assert!(!redact(&digits).redacted());
    }

    #[test]
    fn plates_use_the_real_alphabet_and_capitals() {
        for plate in ["ABC 123", "ABC123", "ABC-123", "WXY 12A", "MLB 84A", "ZZZ 999", "HJK 00W"] {
            assert_eq!(redact(plate).kinds, [REG], "{plate}");
        }
        // I, Q and V are never used on ordinary plates; Å, Ä and Ö neither.
        for not_plate in ["VID 123", "MIN 123", "QRS 123", "ÅBC 123", "ABÖ 123", "ABC 12V", "ABC 12I"] {
            assert!(!redact(not_plate).redacted(), "{not_plate}");
        }
        // Exactly three letters, then exactly three characters.
        for not_plate in ["BUSS 873", "AB 123", "ABC 1234", "ABC 12", "ABC 1A3", "XABC 123", "ABC 123X"] {
            assert!(!redact(not_plate).redacted(), "{not_plate}");
        }
        // Lower case is left alone on purpose: `kl 22`, `bus 873`, `hus 123`, `tog 200` would
        // otherwise be at risk. A known gap, documented at the detector.
        for lower in ["abc 123", "Abc 123", "tog 200 kr", "hus 123", "bus 873", "kl 22", "nr 5"] {
            assert!(!redact(lower).redacted(), "{lower}");
        }
    }

    #[test]
    fn kinds_are_distinct_and_in_first_seen_order() {
        let got = redact("a@b.se ABC 123 c@d.se 070-123 45 67 DEF 456 811218-9876 e@f.se");
        assert_eq!(got.kinds, [MAIL, REG, TEL, PNR]);
    }

    #[test]
    fn a_candidate_freed_by_an_earlier_redaction_is_redacted_too() {
        // The phone number follows `6-`, as if it continued the personnummer; once that is
        // replaced it stands alone, and the fixed point catches it.
        let once = redact("811218-9876-070 123 45 67");
        assert_eq!(once.text, "[personnummer borttaget]-[telefonnummer borttaget]");
        assert_eq!(once.kinds, [PNR, TEL]);
        assert_eq!(redact(&once.text), Redacted { text: once.text.clone(), kinds: vec![] });
    }

    #[test]
    fn an_email_address_wins_over_the_digits_inside_it() {
        let got = redact("Skriv till 0701234567@sms.example.se eller ABC123@example.se.");
        assert_eq!(got.text, "Skriv till [e-post borttagen] eller [e-post borttagen].");
        assert_eq!(got.kinds, [MAIL]);
    }

    #[test]
    fn markers_are_stable_and_kinds_serialize_in_snake_case() {
        for kind in [PNR, TEL, MAIL, REG] {
            assert!(!redact(kind.marker()).redacted());
        }
        assert_eq!(serde_json::to_string(&PNR).unwrap(), "\"personal_identity_number\"");
        assert_eq!(serde_json::to_string(&REG).unwrap(), "\"vehicle_registration\"");
    }

    #[test]
    fn empty_and_plain_notes_are_returned_as_they_are() {
        assert_eq!(redact(""), Redacted { text: String::new(), kinds: vec![] });
        assert_eq!(redact("Lugn kväll."), Redacted { text: "Lugn kväll.".into(), kinds: vec![] });
    }

    fn check_invariants(note: &str) -> Result<(), TestCaseError> {
        let once = redact(note);
        // Nothing detectable is left, so a second pass changes nothing.
        prop_assert!(find(&once.text).is_empty(), "left in {:?}: {:?}", once.text, find(&once.text));
        let twice = redact(&once.text);
        prop_assert_eq!(&twice.text, &once.text);
        prop_assert!(twice.kinds.is_empty());
        // Kinds are distinct, and reported exactly when something was replaced.
        for (i, kind) in once.kinds.iter().enumerate() {
            prop_assert!(!once.kinds[..i].contains(kind));
        }
        prop_assert_eq!(once.redacted(), once.text != note);
        Ok(())
    }

    /// Fragments that exercise the detectors and their edges when strung together.
    const FRAGMENTS: &[&str] = &[
        "811218-9876",
        "050612-1234",
        "0701234569",
        "19811218-9876",
        "070-123 45 67",
        "+46 70 123 45 67",
        "(08) 123 45 67",
        "0046",
        "+46",
        "(0)",
        "ABC 123",
        "MLB 84A",
        "SMS 112",
        "anna@example.se",
        "@",
        ".se",
        "2024-06-12",
        "18:30",
        "13-15",
        "0",
        "08",
        "12",
        "-",
        "+",
        " ",
        ",",
        "(",
        ")",
        "å",
        "Ö",
        "tel ",
        "pnr ",
        "[personnummer borttaget]",
        "[telefonnummer borttaget]",
    ];

    proptest! {
        #[test]
        fn arbitrary_text_never_panics_and_redaction_is_a_fixed_point(note in ".{0,200}") {
            check_invariants(&note)?;
        }

        #[test]
        fn digit_heavy_text_never_panics_and_redaction_is_a_fixed_point(
            note in "[0-9 +()\\-:./@A-Za-zÅÄÖåäö]{0,80}"
        ) {
            check_invariants(&note)?;
        }

        #[test]
        fn strung_fragments_never_panic_and_redaction_is_a_fixed_point(
            parts in proptest::collection::vec(proptest::sample::select(FRAGMENTS), 0..16)
        ) {
            check_invariants(&parts.concat())?;
        }
    }
}
