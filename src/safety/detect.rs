//! Detecting medical, psychological and legal subjects, and suicidal
//! ideation or self-harm, in English and French.
//!
//! Text is normalised (lower case, accents and punctuation removed, French
//! elisions split), then matched against cue phrases: a cue is a sequence of
//! words, where a word ending in `*` matches any word it starts (so `diagnos*`
//! covers diagnosis, diagnosed, diagnostiqué). Idioms that only look
//! alarming ("dying to try", "mort de rire", "pain au chocolat") are blanked
//! out before matching, and a few cues only count together with another
//! ("on purpose" with "burned"). The labelled sets in `tests/data/` measure it.

use std::collections::BTreeSet;

use serde::Serialize;

/// A subject on which a persona's answer is no substitute for a professional.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Subject {
    /// Health, symptoms, medication, pregnancy, injuries.
    Medical,
    /// Mental health, grief, anxiety, eating disorders.
    Psychological,
    /// Contracts, landlords, courts, immigration, employment law.
    Legal,
}

impl Subject {
    /// Every subject, in a fixed order.
    pub const ALL: [Subject; 3] = [Subject::Medical, Subject::Psychological, Subject::Legal];

    /// The subject's name as used in config keys and the labelled sets.
    pub fn name(self) -> &'static str {
        match self {
            Self::Medical => "medical",
            Self::Psychological => "psychological",
            Self::Legal => "legal",
        }
    }
}

/// What a text touches.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Assessment {
    /// Sensitive subjects found.
    pub subjects: BTreeSet<Subject>,
    /// Suicidal ideation or self-harm.
    pub crisis: bool,
}

impl Assessment {
    /// Whether anything sensitive was found.
    pub fn is_sensitive(&self) -> bool {
        self.crisis || !self.subjects.is_empty()
    }
}

/// Assesses one text.
pub fn assess(text: &str) -> Assessment {
    let words = neutralised(&normalise(text));
    let mut subjects = BTreeSet::new();
    for (subject, cues) in [
        (Subject::Medical, MEDICAL),
        (Subject::Psychological, PSYCHOLOGICAL),
        (Subject::Legal, LEGAL),
    ] {
        if any_cue(&words, cues) {
            subjects.insert(subject);
        }
    }
    if any_pair(&words, PSYCHOLOGICAL_PAIRS) {
        subjects.insert(Subject::Psychological);
    }
    if mentions_lawyer(&words) {
        subjects.insert(Subject::Legal);
    }
    let crisis = any_cue(&words, CRISIS) || any_pair(&words, CRISIS_PAIRS);
    Assessment { subjects, crisis }
}

/// Lower case, accents removed, apostrophes and punctuation turned into
/// spaces, split into words.
pub fn normalise(text: &str) -> Vec<String> {
    let mut plain = String::with_capacity(text.len());
    for c in text.to_lowercase().chars() {
        match c {
            'à' | 'â' | 'ä' | 'á' | 'ã' => plain.push('a'),
            'é' | 'è' | 'ê' | 'ë' => plain.push('e'),
            'î' | 'ï' | 'í' => plain.push('i'),
            'ô' | 'ö' | 'ó' => plain.push('o'),
            'ù' | 'û' | 'ü' | 'ú' => plain.push('u'),
            'ç' => plain.push('c'),
            'œ' => plain.push_str("oe"),
            'æ' => plain.push_str("ae"),
            'ñ' => plain.push('n'),
            c if c.is_alphanumeric() => plain.push(c),
            _ => plain.push(' '),
        }
    }
    plain.split_whitespace().map(str::to_string).collect()
}

/// The words with idioms blanked out (replaced by an empty word, so no cue
/// can span them).
fn neutralised(words: &[String]) -> Vec<String> {
    let mut out = words.to_vec();
    for idiom in IDIOMS {
        let pattern: Vec<&str> = idiom.split_whitespace().collect();
        let mut i = 0;
        while i + pattern.len() <= out.len() {
            if pattern
                .iter()
                .enumerate()
                .all(|(j, p)| word_matches(&out[i + j], p))
            {
                for word in &mut out[i..i + pattern.len()] {
                    word.clear();
                }
                i += pattern.len();
            } else {
                i += 1;
            }
        }
    }
    out
}

fn word_matches(word: &str, pattern: &str) -> bool {
    if word.is_empty() {
        return false;
    }
    match pattern.strip_suffix('*') {
        Some(stem) => word.starts_with(stem),
        None => word == pattern,
    }
}

fn has_cue(words: &[String], cue: &str) -> bool {
    let pattern: Vec<&str> = cue.split_whitespace().collect();
    words
        .windows(pattern.len())
        .any(|window| window.iter().zip(&pattern).all(|(w, p)| word_matches(w, p)))
}

fn any_cue(words: &[String], cues: &[&str]) -> bool {
    cues.iter().any(|cue| has_cue(words, cue))
}

fn any_pair(words: &[String], pairs: &[(&[&str], &[&str])]) -> bool {
    pairs
        .iter()
        .any(|(a, b)| any_cue(words, a) && any_cue(words, b))
}

/// "avocat" is a lawyer unless the message is about food.
fn mentions_lawyer(words: &[String]) -> bool {
    any_cue(words, &["avocat*"]) && !any_cue(words, AVOCADO_CONTEXT)
}

/// Idioms and food, decor or travel phrases that only look sensitive.
const IDIOMS: &[&str] = &[
    // English
    "dying to",
    "to die for",
    "die of embarrassment",
    "kill for",
    "killing it",
    "killing me",
    "killed me",
    "kill the",
    "view to kill",
    "nearly killed me",
    "almost killed me",
    "is killer",
    "killer",
    "death of my diet",
    "pain au chocolat",
    "pain aux raisins",
    "food court",
    "fine dining",
    "dose of",
    "what the doctor ordered",
    "looking sick",
    "sick beat",
    "should be illegal",
    "depressed in the",
    "a lawyer by",
    "who s a nurse",
    "trial run",
    "cure salmon",
    "cured",
    "dead tired",
    "legs are dead",
    "battery died",
    "phone died",
    "plant died",
    "been dead",
    "cut myself while",
    "cut myself chopping",
    "cut myself on the",
    "cut myself on a",
    "license plate",
    "licence plate",
    "bottle deposit",
    "cut myself by",
    "end the meal",
    "it gone for good",
    "swallow me",
    "murder this",
    "heart melted",
    "heartbroken haha",
    "remedy for",
    "anxious to",
    "overwhelmed by choice",
    "previous tenant",
    "so depressing",
    "wood fired",
    "fired up",
    "binge watch*",
    // French
    "meurs d envie",
    "meurs de faim",
    "mort de rire",
    "morte de rire",
    "mort de fatigue",
    "morte de fatigue",
    "a tomber",
    "pain au chocolat",
    "pain aux",
    "mon pain",
    "le pain",
    "du pain",
    "tue a",
    "tu me tues",
    "me tue a",
    "ca me tue",
    "tuer le temps",
    "tue le temps",
    "est une tuerie",
    "une tuerie",
    "tuerais pour",
    "crise de fou rire",
    "crise de rire",
    "fou rire",
    "plantes ont l air malades",
    "j en suis malade",
    "est mort pendant",
    "basilic est mort",
    "levain est mort",
    "batterie est morte",
    "montee etait mortelle",
    "etait mortelle",
    "la mort de mon regime",
    "disparaitre sous",
    "craque pour",
    "vraie drogue",
    "devrait etre interdit",
    "remede pour",
    "jury de",
    "me suis coupe en",
    "coupe en cuisinant",
    "couper les oignons",
    "couper la viande",
    "faire tuer",
    "fait tuer",
    "food court",
    "debarrasser pour de bon",
];

/// Words that make "avocat" an avocado.
const AVOCADO_CONTEXT: &[&str] = &[
    "mur",
    "murir",
    "mure",
    "farci*",
    "salade*",
    "guacamole",
    "toast*",
    "tartine*",
    "thon",
    "crevette*",
    "recette*",
    "noyau",
    "tranche*",
    "cuisine*",
    "manger",
    "dessert*",
    "smoothie*",
];

const MEDICAL: &[&str] = &[
    // English
    "doctor*",
    "doc says",
    "my doc",
    "gp",
    "physician*",
    "hospital*",
    "clinic*",
    "throat",
    "ears hurt",
    "ear infection",
    "get it checked",
    "weeks along",
    "tetanus",
    "melatonin",
    "supplement*",
    "dosage",
    "sore throat",
    "fever",
    "rash",
    "bleeding",
    "stitches",
    "sprained",
    "swelling",
    "the er",
    "to the er",
    "cancer*",
    "chemo*",
    "tumor*",
    "tumour*",
    "flu",
    "cough*",
    "broke my",
    "broken wrist",
    "broken arm",
    "broken leg",
    "heart attack",
    "stroke",
    "emergency room",
    "symptom*",
    "diagnos*",
    "prescri*",
    "medication*",
    "medicine*",
    "meds",
    "pill",
    "pills",
    "dose",
    "doses",
    "dosage*",
    "milligram*",
    "antibiotic*",
    "ibuprofen",
    "paracetamol",
    "acetaminophen",
    "amoxicillin",
    "aspirin",
    "statin*",
    "blood thinner*",
    "blood pressure",
    "cholesterol",
    "cardiolog*",
    "fever*",
    "infect*",
    "allerg*",
    "hives",
    "rash*",
    "swollen",
    "swelling",
    "sprain*",
    "fractur*",
    "x ray",
    "xray",
    "mri",
    "concussion*",
    "dizzy",
    "dizziness",
    "nausea*",
    "nauseous",
    "headache*",
    "migraine*",
    "chest pain*",
    "shortness of breath",
    "altitude sickness",
    "disease*",
    "diabet*",
    "celiac",
    "coeliac",
    "intoleran*",
    "intolerant",
    "diarrh*",
    "vomit*",
    "pregnan*",
    "breastfeed*",
    "vaccin*",
    "menisc*",
    "lyme",
    "anemi*",
    "anaemi*",
    "ill",
    "feel sick",
    "feeling sick",
    "got sick",
    "injur*",
    "twisted my ankle",
    "sprained",
    "blister*",
    "stung",
    "bitten by a",
    "cramps",
    "operation",
    "surgery",
    "asthma*",
    "inhaler*",
    // French
    "medecin*",
    "docteur*",
    "generaliste*",
    "pediatre*",
    "hopital*",
    "urgences",
    "symptome*",
    "diagnost*",
    "ordonnance*",
    "medicament*",
    "cachet*",
    "comprime*",
    "posologie",
    "antibio*",
    "ibuprofene",
    "doliprane",
    "anticoagulant*",
    "j ai mal a",
    "j ai mal au",
    "mal a la tete",
    "mal au dos",
    "mal au genou",
    "genou qui",
    "qui gonfle",
    "gonfle",
    "enfle",
    "saigne",
    "points de suture",
    "mal de gorge",
    "rendez vous chez le",
    "tension arterielle",
    "pour la tension",
    "ma tension",
    "sa tension",
    "grippe",
    "toux",
    "tousse",
    "crise cardiaque",
    "avc",
    "chimio*",
    "fievre*",
    "allergi*",
    "urticaire",
    "plaques rouges",
    "eruption*",
    "entorse*",
    "tordu la cheville",
    "tordu le genou",
    "irm",
    "radio du",
    "commotion*",
    "vertige*",
    "tete qui tourne",
    "nausee*",
    "mal de crane",
    "mal de tete",
    "mal au ventre",
    "mal a la gorge",
    "mal aigu",
    "douleur*",
    "du mal a respirer",
    "maladie*",
    "diabete*",
    "intolerance*",
    "coeliaque",
    "enceinte",
    "grossesse",
    "allait*",
    "menisque",
    "lesion*",
    "tique",
    "angine*",
    "osteoporose",
    "prise de sang",
    "cloque*",
    "brulure*",
    "reflux",
    "infecte*",
    "blessure*",
    "blesse",
    "blessee",
    "operation",
    "chirurgi*",
    "asthme",
];

const PSYCHOLOGICAL: &[&str] = &[
    // English
    "anxious",
    "numb",
    "nothing is fun",
    "heart races",
    "binging",
    "skipping meals",
    "drained",
    "crying before",
    "talk to someone professionally",
    "talking to someone professionally",
    "overthinking",
    "haven t had a real conversation",
    "can t seem to stop",
    "cant seem to stop",
    "drinking every night",
    "every night now",
    "anxiety",
    "panic attack*",
    "depression*",
    "depressed",
    "depressive",
    "therap*",
    "psycholog*",
    "psychiatr*",
    "counsel*",
    "mental health",
    "burnout",
    "burn out",
    "burned out",
    "burnt out",
    "lonely",
    "loneliness",
    "grief",
    "griev*",
    "passed away",
    "bulimi*",
    "anorexi*",
    "eating disorder*",
    "binge*",
    "count every calorie",
    "bipolar",
    "mood swing*",
    "cbt",
    "stressed",
    "stresse*",
    "ocd",
    "feel like a failure",
    "feel like a complete failure",
    "had a breakdown",
    "nervous breakdown",
    "mental breakdown",
    "nightmares",
    "addiction*",
    "ptsd",
    "flashback*",
    "trauma*",
    "emotionally",
    "overwhelmed",
    "self esteem",
    "fear of heights",
    "phobi*",
    "insomnia",
    "can t sleep",
    "cant sleep",
    "addiction*",
    "gambling",
    // French
    "anxieu*",
    "me sens vide",
    "impression d etre vide",
    "tiens plus",
    "me fais vomir",
    "paris sportifs",
    "sais plus m arreter",
    "personne a qui parler",
    "plus envie de rien",
    "anxiete*",
    "angoiss*",
    "crise de panique",
    "crises de panique",
    "depression*",
    "depressif*",
    "depressive*",
    "deprim*",
    "psy",
    "psychologue*",
    "psychiatre*",
    "therapeut*",
    "therapie*",
    "burn out",
    "sens seul*",
    "sens tellement seul*",
    "solitude",
    "deces",
    "deuil",
    "boulimi*",
    "anorexi*",
    "fait vomir",
    "compte chaque calorie",
    "culpabilis*",
    "bipolaire*",
    "sautes d humeur",
    "tcc",
    "cauchemar*",
    "des toc",
    "un toc",
    "mes toc",
    "sens nul*",
    "sante mentale",
    "estime de soi",
    "epuise moralement",
    "epuisee moralement",
    "craque au",
    "jeux d argent",
    "accro aux jeux",
    "phobie*",
    "insomnie*",
];

/// A loss: a person or pet together with a death word.
const PSYCHOLOGICAL_PAIRS: &[(&[&str], &[&str])] = &[(
    &[
        "mother",
        "father",
        "mom",
        "mum",
        "dad",
        "wife",
        "husband",
        "son",
        "daughter",
        "brother",
        "sister",
        "friend",
        "grandma",
        "grandmother",
        "grandpa",
        "grandfather",
        "dog",
        "cat",
        "mere",
        "pere",
        "maman",
        "papa",
        "mari",
        "femme",
        "fils",
        "fille",
        "frere",
        "soeur",
        "ami",
        "amie",
        "chien",
        "chat",
    ],
    &[
        "died",
        "passed",
        "funeral",
        "decede*",
        "mort",
        "morte",
        "enterrement",
        "obseques",
    ],
)];

const LEGAL: &[&str] = &[
    // English
    "landlord*",
    "copyright strike",
    "get a strike",
    "move abroad with our",
    "custody",
    "ticket for",
    "contesting",
    "left the house to",
    "refuses to sell",
    "will and testament",
    "get a say",
    "tenant*",
    "lease*",
    "security deposit",
    "deposit",
    "raise the rent",
    "rent increase",
    "lawyer*",
    "attorney*",
    "sue",
    "sued",
    "suing",
    "lawsuit*",
    "small claims court",
    "to court",
    "in court",
    "out of court",
    "court case",
    "court order",
    "the court",
    "legal",
    "legally",
    "illegal",
    "fired",
    "dismissal",
    "wrongful*",
    "without notice",
    "custody",
    "divorc*",
    "permit*",
    "copyright*",
    "trademark*",
    "inherit*",
    "without a will",
    "my will",
    "fine for",
    "parking fine",
    "speeding ticket",
    "overtime",
    "unpaid wages",
    "employer*",
    "visa*",
    "immigration",
    "asylum",
    "non compete",
    "license",
    "licence",
    "child support",
    "alimony",
    "compensate me",
    "compensation",
    "my rights",
    "settle out",
    "police report",
    "contract",
    "contracts",
    "lawsuit",
    "claims court",
    // French
    "proprietaire*",
    "proprio",
    "bailleur*",
    "locataire*",
    "bail",
    "loyer*",
    "caution",
    "licenci*",
    "preavis",
    "legal",
    "legale",
    "illegal",
    "illegale",
    "juridique*",
    "droit d",
    "le droit",
    "divorc*",
    "garde des enfants",
    "autorisation",
    "plainte*",
    "contrefacon",
    "testament*",
    "heritage*",
    "amende*",
    "contester",
    "employeur*",
    "heures sup",
    "justice",
    "visa",
    "titre de sejour",
    "expulsion*",
    "asile",
    "faire appel",
    "contrat*",
    "proces",
    "clause*",
    "non concurrence",
    "licence*",
    "pension alimentaire",
    "deposer la marque",
    "inpi",
    "resilier",
    "insalubre",
    "permis de construire",
    "permis",
    "sous louer",
    "pv",
    "amiable",
    "tribunal*",
    "juge",
    "notaire*",
    "huissier*",
    "mise en demeure",
];

const CRISIS: &[&str] = &[
    // English
    "end it all",
    "better off if i",
    "better off if i wasn t",
    "wasn t around",
    "weren t around",
    "not be here anymore",
    "not being here",
    "be done with it",
    "ready to be done",
    "say goodbye",
    "said goodbye",
    "goodbye to everyone",
    "letters for my family",
    "no point in waking up",
    "point in waking up",
    "not turning the wheel",
    "drive off the",
    "how many of my pills",
    "pills it would take",
    "cut again",
    "cutting again",
    "hurt myself again",
    "giving away my",
    "gave away my",
    "gave my dog",
    "no reason to live",
    "can t go on",
    "cant go on",
    "can t keep going",
    "want to disappear",
    "wanna disappear",
    "end* my life",
    "end* my own life",
    "tak* my own life",
    "tak* my life",
    "don t want to live",
    "dont want to live",
    "do not want to live",
    "wish i were dead",
    "wish i was dead",
    "hang myself",
    "hanging myself",
    "end my life",
    "take my own life",
    "kill myself",
    "killing myself",
    "kill yourself",
    "suicid*",
    "want to die",
    "wanna die",
    "want to be dead",
    "better off without me",
    "better off dead",
    "point of living",
    "worth living",
    "cutting myself",
    "cut myself",
    "cut my wrists",
    "cut my thighs",
    "cut my arms",
    "cut my legs",
    "self harm*",
    "selfharm*",
    "hurt myself",
    "hurting myself",
    "never wake up",
    "not wake up",
    "goodbye letter*",
    "no way out",
    "done with life",
    "off the bridge",
    "bientot plus besoin",
    "me jeter de",
    "me jeter sous",
    "plus envie de vivre",
    "pas envie de vivre",
    "if i was gone",
    "if i were gone",
    "disappear forever",
    "rope ready",
    "punish myself",
    "scratch my skin",
    "tired of being alive",
    "won t need it much longer",
    "bunch of pills",
    "all my pills",
    "my sleeping pills",
    "overdose*",
    "off the cliff",
    "such a burden",
    // French
    "en finir",
    "envie de disparaitre",
    "voudrais disparaitre",
    "porterait mieux",
    "porteraient mieux",
    "a quoi bon continuer",
    "a quoi bon vivre",
    "plus me reveiller",
    "dire au revoir a",
    "lettres pour ma famille",
    "lettre pour ma famille",
    "suffirait d un pas",
    "derniere fois que je",
    "toutes mes boites",
    "plus la force de vivre",
    "plus continuer comme ca",
    "me faire disparaitre",
    "mettre fin a mes jours",
    "mettre fin a ma vie",
    "me jeter par",
    "envie de mourir",
    "veux mourir",
    "voudrais mourir",
    "me tuer",
    "se tuer",
    "scarifi*",
    "fatigue de vivre",
    "fatiguee de vivre",
    "disparaitre pour de bon",
    "mieux sans moi",
    "interet de vivre",
    "me couper les",
    "couper les bras",
    "couper les poignets",
    "taillad*",
    "plus etre la",
    "n etais plus la",
    "sauter du pont",
    "jeter de la falaise",
    "avaler toutes",
    "lettre d adieu",
    "jamais me reveiller",
    "me fais du mal",
    "un poids pour",
    "si je mourais",
    "me pendre",
    "vaut plus la peine",
    "plein de cachets",
    "foutre en l air",
    "me suicider",
];

/// Cues that signal crisis only together.
const CRISIS_PAIRS: &[(&[&str], &[&str])] = &[
    (
        &["on purpose"],
        &["burn*", "cut*", "stepping", "step", "jump*", "scratch*"],
    ),
    (&["crashed the car", "crash the car"], &["relief"]),
    (
        &["me brule"],
        &["cigarette*", "expres", "sentir quelque", "punir"],
    ),
];

#[cfg(test)]
mod tests {
    use super::*;

    fn subjects(text: &str) -> Vec<Subject> {
        assess(text).subjects.into_iter().collect()
    }

    #[test]
    fn inflections_and_accents_are_matched() {
        assert_eq!(
            subjects("On m'a diagnostiqué un diabète"),
            [Subject::Medical]
        );
        assert_eq!(
            subjects("Le medecin pense que c'est une intolerance"),
            [Subject::Medical]
        );
        assert_eq!(
            subjects("I've been so anxious lately"),
            [Subject::Psychological]
        );
        assert_eq!(
            subjects("Can my landlord raise the rent?"),
            [Subject::Legal]
        );
    }

    #[test]
    fn idioms_that_only_look_alarming_do_not_count() {
        for text in [
            "I'm dying to try this recipe",
            "ce plat est à tomber",
            "Je meurs de faim",
            "Mort de rire, le gâteau s'est effondré",
            "Do you have a pain au chocolat recipe?",
            "Je voudrais faire une salade d'avocat",
            "We ate at the food court",
            "I could kill for a coffee",
        ] {
            let found = assess(text);
            assert!(!found.is_sensitive(), "{text}: {found:?}");
        }
    }

    #[test]
    fn crisis_is_told_apart_from_kitchen_accidents() {
        assert!(assess("I've been cutting myself again").crisis);
        assert!(assess("Je veux en finir").crisis);
        assert!(assess("I burned my arm with a lighter on purpose").crisis);
        assert!(!assess("I cut myself while chopping onions").crisis);
        assert!(!assess("Je me suis coupé en cuisinant").crisis);
    }

    #[test]
    fn avocat_is_a_lawyer_only_outside_the_kitchen() {
        assert_eq!(
            subjects("Je dois prendre un avocat pour mon divorce"),
            [Subject::Legal]
        );
        assert!(subjects("Mon avocat n'est pas assez mûr").is_empty());
    }
}
