//! Reference data every organisation starts with: the taxonomy of DOMAIN.md, with Swedish and
//! English labels. Slugs are stable identifiers; labels and order are editable per organisation.

/// (slug, Swedish label, English label), in display order.
pub const DEFAULT_CATEGORIES: &[(&str, &str, &str)] = &[
    ("vandalism", "Skadegörelse", "Vandalism"),
    ("graffiti", "Klotter", "Graffiti"),
    ("littering", "Nedskräpning", "Littering"),
    ("fire", "Brand", "Fire"),
    ("lighting", "Belysning trasig eller saknas", "Broken or missing lighting"),
    ("disorder", "Ordningsstörning", "Public disorder"),
    ("youth_gathering", "Samling av ungdomar", "Gathering of young people"),
    ("drugs", "Narkotika", "Drug-related signs"),
    ("alcohol", "Alkohol", "Public alcohol use"),
    ("threat_violence", "Hot eller våld", "Threat or violence"),
    (
        "criminal_networks",
        "Tecken på kriminella nätverk eller rekrytering",
        "Signs of criminal networks or recruitment",
    ),
    ("unsafe_place", "Otrygg plats", "Unsafe physical place"),
    ("positive", "Positiv iakttagelse", "Positive observation"),
];

/// (slug, Swedish label, English label), in display order.
pub const DEFAULT_ACTIVITY_TYPES: &[(&str, &str, &str)] = &[
    ("outreach_shift", "Uppsökande pass", "Outreach shift"),
    ("guard_patrol", "Väktarrond", "Guard patrol"),
    ("summer_cafe", "Sommarcafé", "Summer café opening"),
    ("association_host", "Föreningsvärdspass", "Association host shift"),
    ("safety_walk", "Trygghetsvandring", "Safety walk with residents"),
    ("youth_dialogue", "Dialogmöte med unga", "Dialogue with young people"),
    ("sspf_meeting", "SSPF-möte", "SSPF meeting"),
    ("summer_job", "Feriejobb", "Summer job work"),
    ("event", "Evenemang", "Event"),
    ("partner_meeting", "Nätverksmöte eller samverkan", "Network or partner meeting"),
];

/// Estimated age bands of the people observed.
pub const AGE_BANDS: &[&str] = &["under_13", "13_15", "16_17", "18_24", "25_plus", "unknown"];

/// Review statuses of an observation, in their usual order.
pub const REVIEW_STATUSES: &[&str] = &["new", "reviewed", "forwarded", "closed"];
