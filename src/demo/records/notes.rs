//! The notes of the demo's observations: what a field worker would write of what they saw,
//! now and then with a phone number that redaction removes.

use super::{Day, place};

impl Day {
    /// A note for an observation of `category` in the area `code`.
    pub(super) fn observation_note(&mut self, category: &str, code: &str, people: Option<i64>) -> String {
        if self.rng.chance(0.2) {
            return String::new();
        }
        let place = place(code);
        let n = people.unwrap_or(1);
        let options: Vec<String> = match category {
            "vandalism" => vec![
                format!("Krossad ruta i busskuren vid {place}."),
                "Sönderslagen papperskorg och uppbrutet cykelställ.".into(),
                format!("Skadegörelse på lekplatsen i {place}, gungan nedriven."),
            ],
            "graffiti" => vec![
                "Nytt klotter på elskåpet vid gångvägen.".into(),
                format!("Tags på fasaden mot torget i {place}."),
                "Klotter i gångtunneln, ca 3 meter.".into(),
            ],
            "littering" => vec![
                "Mycket skräp efter helgen, fulla papperskorgar.".into(),
                format!("Nedskräpning vid badplatsen/bryggan i {place}."),
                "Engångsgrillar och flaskor kvarlämnade.".into(),
            ],
            "fire" => vec![
                "Brand i papperskorg, släckt när vi kom.".into(),
                "Raketer avfyrade mot fasad, brandgul fläck.".into(),
                format!("Containerbrand vid {place}, räddningstjänsten på plats."),
            ],
            "lighting" => vec![
                "Belysningen ur funktion längs gångvägen, helt mörkt.".into(),
                format!("Tre lyktstolpar släckta vid parkeringen i {place}."),
                "Trasig belysning i gångtunneln, upplevs otryggt.".into(),
            ],
            "disorder" => vec![
                format!("Högljudd grupp på ca {n} personer vid centrumentrén."),
                "Bråk mellan två grupper, löstes upp när vi kom.".into(),
                "Smällare kastades mot förbipasserande.".into(),
            ],
            "youth_gathering" => vec![
                format!("Ca {n} ungdomar samlade vid {place}, lugn stämning."),
                format!("Ungdomar på fotbollsplanen, ca {n} st, pratade med flera."),
                format!("Samling vid kiosken, ca {n} unga, god kontakt."),
            ],
            "drugs" => vec![
                "Lukt av cannabis vid trappan bakom skolan.".into(),
                "Misstänkt langning vid parkeringen, rapporterat vidare.".into(),
                "Hittade kanyler vid lekplatsen, tillvaratagna.".into(),
            ],
            "alcohol" => vec![
                format!("Ca {n} personer drack alkohol vid bryggan."),
                "Berusade ungdomar vid busshållplatsen, en behövde hjälp hem.".into(),
                "Spritflaskor och ölburkar i parken efter fredagskvällen.".into(),
            ],
            "threat_violence" => vec![
                "Hot mot personal vid centrumentrén, polis tillkallad.".into(),
                "Misshandel vid busshållplatsen, ambulans på plats.".into(),
                "Ungdom hotad med kniv enligt vittnen, polisen informerad.".into(),
            ],
            "criminal_networks" => vec![
                "Äldre personer i bil pratade med yngre, uppfattas som rekrytering.".into(),
                "Unga berättar om erbjudanden att springa ärenden mot betalning.".into(),
                format!("Okända vuxna återkommande vid {place} sena kvällar."),
            ],
            "unsafe_place" => vec![
                "Buskage skymmer gångvägen, känns otryggt när det är mörkt.".into(),
                format!("Gångtunneln vid {place} upplevs otrygg av boende."),
                "Ödslig parkering utan belysning, flera undviker platsen.".into(),
            ],
            _ => vec![
                format!("Bra stämning vid {place}, många familjer ute."),
                "Ungdomar hjälpte till att plocka skräp.".into(),
                "Föreningen höll öppet och många unga var på plats.".into(),
                "Boende tackade för att vi syns i området.".into(),
            ],
        };
        let mut note = self.rng.pick(&options).clone();
        // Now and then a note carries what must not be stored; redaction removes it.
        if self.rng.chance(0.015) {
            let number = format!(
                "07{}-{:03} {:02} {:02}",
                self.rng.int(0, 6),
                self.rng.int(100, 999),
                self.rng.int(10, 99),
                self.rng.int(10, 99)
            );
            note.push_str(&format!(" Boende vill bli kontaktad på {number}."));
        }
        note
    }
}
