//! Crisis signals that no single phrase carries.
//!
//! People rarely say "suicide". They say they would rather not wake up, that
//! everyone would manage fine without them, that they gave their things away
//! and it is time, that they need a bridge high enough. Each of those is a
//! *frame*: a few concepts (a wish and an ending, a means and a lethal
//! detail, a self-injury and the relief it brings) that must all appear
//! within a few words of each other. A concept is a list of cues in the
//! syntax of [`super::detect`]; the frames below follow the warning signs
//! that crisis lines teach (death wishes, burden, farewells, means,
//! self-injury, passive wishes) rather than particular sentences.

use super::detect::{has_cue_at, word_matches};

/// Concepts that must all be found with at most `window` words between them,
/// with none of the `unless` cues in or just around that stretch.
struct Frame {
    /// What the frame stands for, for tests and debugging.
    name: &'static str,
    concepts: &'static [&'static [&'static str]],
    window: usize,
    unless: &'static [&'static str],
    /// Concepts that explain the frame away wherever they are in the text.
    context: &'static [&'static [&'static str]],
}

/// Whether any crisis frame is found in the (normalised, neutralised) words.
pub(super) fn crisis(words: &[String]) -> bool {
    found(words).is_some()
}

/// The name of the first crisis frame found, if any. A message about a film,
/// a game or a book is read as fiction, and one about a dying plant or phone
/// as just that: frames infer, and these explain.
pub(super) fn found(words: &[String]) -> Option<&'static str> {
    if !spans(words, FICTION).is_empty() || !spans(words, THINGS).is_empty() {
        return None;
    }
    FRAMES
        .iter()
        .find(|frame| frame_matches(words, frame))
        .map(|frame| frame.name)
}

/// The names of the concepts found in the words: what the learned reader
/// ([`super::classifier`]) sees beside the words themselves.
pub(super) fn concepts(words: &[String]) -> impl Iterator<Item = &'static str> {
    CONCEPTS
        .iter()
        .filter(|(_, cues)| !spans(words, cues).is_empty())
        .map(|(name, _)| *name)
}

fn frame_matches(words: &[String], frame: &Frame) -> bool {
    let hits: Vec<Vec<(usize, usize)>> = frame
        .concepts
        .iter()
        .map(|cues| spans(words, cues))
        .collect();
    if hits.iter().any(Vec::is_empty) || frame.context.iter().any(|c| !spans(words, c).is_empty()) {
        return false;
    }
    let mut chosen = Vec::with_capacity(hits.len());
    any_close_choice(words, frame, &hits, &mut chosen)
}

/// Tries every choice of one match per concept, depth first (matches are
/// few, messages short).
fn any_close_choice(
    words: &[String],
    frame: &Frame,
    hits: &[Vec<(usize, usize)>],
    chosen: &mut Vec<(usize, usize)>,
) -> bool {
    let Some(candidates) = hits.get(chosen.len()) else {
        let start = chosen.iter().map(|s| s.0).min().unwrap_or(0);
        let end = chosen.iter().map(|s| s.1).max().unwrap_or(0);
        let last_start = chosen.iter().map(|s| s.0).max().unwrap_or(0);
        let first_end = chosen.iter().map(|s| s.1).min().unwrap_or(0);
        return last_start.saturating_sub(first_end) <= frame.window
            && !spans(words, frame.unless)
                .iter()
                .any(|u| u.1 + 3 >= start && u.0 <= end + 3);
    };
    for &span in candidates {
        chosen.push(span);
        if any_close_choice(words, frame, hits, chosen) {
            return true;
        }
        chosen.pop();
    }
    false
}

/// Where each cue matches: (first word, one past the last word).
fn spans(words: &[String], cues: &[&str]) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    for cue in cues {
        let Some(first) = cue.split_whitespace().next() else {
            continue;
        };
        for (start, word) in words.iter().enumerate() {
            if word_matches(word, first) && has_cue_at(words, cue, start) {
                out.push((start, start + cue.split_whitespace().count()));
            }
        }
    }
    out
}

/// Stories, where these frames describe characters.
const FICTION: &[&str] = &[
    "game",
    "episode",
    "character",
    "movie",
    "film",
    "tv show",
    "the show",
    "series",
    "novel",
    "jeu video",
    "le jeu",
    "personnage*",
    "serie",
    "roman",
    "episode",
    "mon jeu",
    "ce jeu",
    "games",
    "gaming",
    "quest",
    "quete",
];

/// Plants, batteries and sourdough starters dying: nobody is in danger.
const THINGS: &[&str] = &[
    "plant* is dying",
    "plant* are dying",
    "plant* keep dying",
    "plant* died",
    "plant* s dying",
    "my plant* ? dying",
    "basil died",
    "basil is dying",
    "battery died",
    "battery is dying",
    "battery s dying",
    "phone died",
    "phone is dying",
    "phone s dying",
    "laptop died",
    "starter died",
    "starter is dead",
    "plante est en train de",
    "plantes sont en train de",
    "plante* meur*",
    "plante* ? en train de mourir",
    "plante* ? ? en train de mourir",
    "basilic est mort",
    "basilic meurt",
    "batterie est morte",
    "batterie ? morte",
    "tel est mort",
    "telephone est mort",
    "levain est mort",
    "levain ? mort",
    "tunnel",
    "pas de reseau",
    "no signal",
    "no network",
    "wifi",
];

/// The speaker.
const SELF: &[&str] = &[
    "i", "me", "my", "myself", "je", "j", "moi", "m", "mes", "ma", "mon",
];

/// Wanting, planning, intending, hoping.
const WISH: &[&str] = &[
    "want*",
    "wanna",
    "wish*",
    "hope",
    "hoping",
    "rather",
    "ready to",
    "plan",
    "plan to",
    "planning",
    "planned",
    "plans",
    "going to",
    "gonna",
    "think* about",
    "thought about",
    "tempted",
    "d like to",
    "would like to",
    "long to",
    "pray*",
    "dream* of",
    "dream* about",
    "envie",
    "veux",
    "voudrais",
    "aimerais",
    "souhait*",
    "prefer*",
    "pense a",
    "pense serieusement",
    "songe*",
    "tente",
    "tentee",
    "prete a",
    "pret a",
    "vais",
    "reve de",
    "reve d",
    "espere",
    "j espere",
];

/// The speaker's life ending, said without saying it.
const CEASE: &[&str] = &[
    "die",
    "be dead",
    "stop* existing",
    "not exist*",
    "cease to exist",
    "disappear*",
    "vanish*",
    "not be here anymore",
    "not be around anymore",
    "not be here tomorrow",
    "not wake up",
    "never wake up",
    "didn t wake up",
    "don t wake up",
    "sleep forever",
    "asleep forever",
    "fall asleep and never",
    "go to sleep and never",
    "end it",
    "end everything",
    "not be alive",
    "leave this world",
    "mourir",
    "crever",
    "disparaitre",
    "plus exister",
    "pas exister",
    "arreter d exister",
    "cesser d exister",
    "plus etre la",
    "plus etre en vie",
    "plus me reveiller",
    "plus se reveiller",
    "pas me reveiller",
    "jamais me reveiller",
    "dormir pour toujours",
    "endormir pour toujours",
    "endormir et ne",
    "partir pour de bon",
    "partir pour toujours",
    "en finir",
    "quitter ce monde",
    "jamais revenir",
    "never come back",
    "not come back",
    "stop* breathing",
    "go to sleep forever",
    "don t want to wake up",
    "not want to wake up",
    "pas envie de me reveiller",
    "pas envie de me lever demain",
    "plus envie de me reveiller",
    "rejoindre papa",
    "rejoindre maman",
    "join my late",
    "be with dad again",
    "be with mom again",
    "not have a tomorrow",
    "no tomorrow",
    "pas de lendemain",
    "plus de lendemain",
    "skip tomorrow",
    "slipping under",
    "sauter le lendemain",
];

/// Saying one does not wish to die is not a wish to die.
const NOT_WISHING: &[&str] = &[
    "don t want to die",
    "do not want to die",
    "don t wanna die",
    "never want to die",
    "not ready to die",
    "ne veux pas mourir",
    "veux pas mourir",
    "voudrais pas mourir",
    "pas envie de mourir",
    "pas disparaitre",
    // Something else that should go, or a figure of speech.
    "it to",
    "them to",
    "this to",
    "that to",
    "these to",
    "those to",
    "faire disparaitre",
    "faire mourir",
    "fasse disparaitre",
    "not die",
    "t die",
    "die down",
    "die out",
    "die if",
    "die of",
    "die from",
    "die when",
    "die laughing",
    "die happy",
    "die on",
    "end it with",
    "end it on",
    "mourir de",
    "the ? to",
    "the ? ? to",
    "my ? to",
    "my ? ? to",
    "this ? to",
    "that ? to",
    "these ? to",
    "those ? to",
    "all the ? to",
    "his ? to",
    "her ? to",
    "our ? to",
    "their ? to",
    "your ? to",
    "semaine*",
    "jour*",
    "week*",
    "days",
    "vacances",
    "holiday*",
    "vacation",
    "des reseaux",
    "from social media",
    "off social media",
    "thought i was going to die",
    "cru mourir",
    "j ai cru que j allais mourir",
    "disappear into",
    "disparaitre dans",
    "disparais dans",
];

/// Others, who would be fine without the speaker.
const OTHERS_BETTER: &[&str] = &[
    "better off",
    "easier for everyone",
    "easier for them",
    "easier for my",
    "happier without",
    "simpler for everyone",
    "relief for everyone",
    "relief for them",
    "mieux sans",
    "plus simple pour tout le monde",
    "plus simple pour eux",
    "plus simple pour ma",
    "plus heureux sans",
    "plus heureuse sans",
    "soulagement pour",
    "breathe easier",
    "respireraient mieux",
    "respirerait mieux",
];

/// The speaker gone.
const ABSENCE: &[&str] = &[
    "without me",
    "if i wasn t",
    "if i weren t",
    "if i was gone",
    "if i were gone",
    "if i disappeared",
    "if i died",
    "if i was dead",
    "if i were dead",
    "when i m gone",
    "once i m gone",
    "after i m gone",
    "sans moi",
    "si je n etais",
    "si j etais plus",
    "si je disparaissais",
    "si je mourais",
    "si je partais",
    "si j etais mort",
    "si j etais morte",
    "quand je serai plus la",
    "quand je ne serai plus",
    "une fois que je serai parti*",
    "si je disparais",
    "if i disappear",
    "if i m gone",
    "if i was not here",
    "si j etais plus la",
    "wasn t in the picture",
    "if i just wasn t",
    "si j etais plus dans",
];

/// Nobody would notice or miss the speaker.
const UNNOTICED: &[&str] = &[
    "nobody would notice",
    "no one would notice",
    "anyone would notice",
    "anyone would even notice",
    "anyone would care",
    "nobody would miss me",
    "no one would miss me",
    "nobody would care",
    "no one would care",
    "anyone would miss me",
    "personne ne remarquerait",
    "personne remarquerait",
    "personne s en rendrait compte",
    "personne ne s en rendrait compte",
    "manquerais a personne",
    "manquerai a personne",
    "personne me regretterait",
    "personne ne me regretterait",
    "personne le remarquera",
    "personne ne le remarquera",
    "personne ne remarquera",
    "personne remarquera",
    "nobody will notice",
    "no one will notice",
    "nobody will miss me",
    "no one will miss me",
    "personne verra la difference",
    "nobody would even notice",
    "no one would even notice",
];

/// Feeling a burden to others.
const BURDEN: &[&str] = &[
    "burden",
    "fardeau",
    "un poids pour",
    "poids mort",
    "plus un probleme",
    "no longer a problem",
    "won t be a problem",
    "not be a problem anymore",
    "debarrasse* de moi",
    "rid of me",
];

/// Who the burden weighs on, or the speaker feeling it.
const BURDEN_ON: &[&str] = &[
    "i m a",
    "i am a",
    "i m such",
    "i am such",
    "feel like a",
    "feel like such",
    "just a",
    "being a",
    "everyone",
    "everybody",
    "my family",
    "my kids",
    "my parents",
    "to them",
    "on them",
    "suis un",
    "suis une",
    "suis qu un",
    "etre un",
    "tout le monde",
    "ma famille",
    "mes enfants",
    "mes parents",
    "pour eux",
];

/// Putting one's affairs in order, giving things away.
const SETTLING: &[&str] = &[
    "giv* away my",
    "giv* away all",
    "giv* my ? away",
    "giv* my ? ? away",
    "giving my stuff",
    "giving my things",
    "gave away my",
    "gave away all",
    "gave my ? away",
    "given away my",
    "affairs in order",
    "sorted out my things",
    "found homes for my",
    "new home for my",
    "donne* mes affaires",
    "donne toutes mes",
    "donne* toutes mes",
    "distribu* mes affaires",
    "rang* toutes mes affaires",
    "trie* toutes mes affaires",
    "ordre dans mes affaires",
    "mes affaires en ordre",
    "trouve* une famille pour mon",
    "trouve* quelqu un pour garder mon",
    "my will",
    "passwords",
    "cancel* my subscriptions",
    "resilie* mes abonnements",
    "papiers en ordre",
    "mon testament",
    "everything in order",
    "vide mon compte",
    "mes mots de passe",
    "remember me by",
    "se souvenir de moi",
    "se souviennent de moi",
    "take care of ? for me",
    "prends soin de ? pour moi",
    "written everything down for",
    "tout ecrit pour",
    "garder mon chat pour toujours",
    "care of a cat if",
    "giving my ? and my",
    "giving my ? to",
    "donne* mes ? a",
    "s occuper de mon ? apres",
    "occuper de mon ? apres",
    "take care of my ? after",
    "look after my ? after",
    "confie* mon chien",
    "confie* mon chat",
    "laisser les cles",
    "resilie mon bail",
    "mon forfait",
    "sold his",
    "sold her",
    "vendu sa moto",
    "vendre sa",
    "gave my ? and my",
];

/// Farewells and letters for afterwards.
const FAREWELL: &[&str] = &[
    "goodbye",
    "good bye",
    "farewell",
    "letters to",
    "letter to my",
    "letter for my",
    "letters for",
    "note for my",
    "a note for",
    "au revoir",
    "adieu*",
    "lettre a ma",
    "lettre a mon",
    "lettre a mes",
    "lettre pour",
    "lettres a",
    "lettres pour",
    "un mot pour",
    "wrote the note",
    "the note",
    "mes lettres",
    "ecrit mes lettres",
    "te dire adieu",
    "adieu tout le monde",
    "goodbye everyone",
    "say goodbye to everyone",
    "parler a quelqu un avant",
    "talk to someone before",
    "lettre pour chacun",
    "a letter for each",
    "a note so",
    "blame herself",
    "blame himself",
    "blame themselves",
    "culpabilise pas",
    "s en veuille pas",
];

/// It is about to happen, or will not matter after.
const FINALITY: &[&str] = &[
    "it s time",
    "its time",
    "it is time",
    "time has come",
    "won t need",
    "won t be needing",
    "won t be around",
    "wont need",
    "when i m gone",
    "after i m gone",
    "once i m gone",
    "c est le moment",
    "c est l heure",
    "le moment est venu",
    "plus besoin",
    "aurai plus besoin",
    "serai plus la",
    "quand je serai parti*",
    "courage",
    "need the courage",
    "le courage",
    "before i leave",
    "tout est pret",
    "when they find me",
    "quand ils me trouveront",
    "quand on me trouvera",
    "won t be here",
    "me retrouvera",
    "me retrouveront",
    "me trouvera",
    "doesn t need to know why",
    "derriere moi",
    "en plan",
    "and find me",
    "they find me",
    "come in and find me",
];

/// Where people fall from.
const HEIGHTS: &[&str] = &[
    "cliff*",
    "bridge*",
    "roof*",
    "rooftop*",
    "ledge",
    "tallest building",
    "falaise*",
    "pont",
    "ponts",
    "toit*",
    "viaduc*",
    "haut d un immeuble",
    "dernier etage",
    "immeuble",
    "multi storey",
    "multistorey",
    "tomber du",
    "fall from the",
    "8eme",
    "etage",
    "balcony",
    "balcon",
];

/// A height wanted for what it would do, or a place to be alone at it.
const LETHAL_HEIGHT: &[&str] = &[
    "high enough to",
    "high enough that",
    "jump off",
    "jump from",
    "fall from",
    "sauter du",
    "sauter de",
    "me jeter",
    "nobody would find me",
    "no one would find me",
    "nobody finds me",
    "no one finds me",
    "nobody can find me",
    "survive the fall",
    "survive a fall",
    "assez haut pour que",
    "assez haut pour ne",
    "suffisamment haut pour",
    "personne me trouve*",
    "personne ne me trouve*",
    "personne ne pourrait me trouver",
    "survivre a la chute",
    "que ce soit rapide",
    "sans souffrir",
    "painless",
    "quick and",
    "jumping",
    "thinking about jump*",
    "looking down",
    "pense a sauter",
    "sauter",
    "pas survivre",
    "not survive",
];

/// Medicines someone could take too many of.
const PILLS: &[&str] = &[
    "pill*",
    "paracetamol",
    "tylenol",
    "acetaminophen",
    "sleeping tablets",
    "my meds",
    "my medication",
    "insulin",
    "cachet*",
    "comprime*",
    "medoc*",
    "medicament*",
    "doliprane",
    "somnifere*",
    "anxiolytique*",
    "antidepress*",
    "antidepresseur*",
    "toute la boite",
    "toute ma boite",
    "boite entiere",
    "toutes les boites",
    "boite de cote",
    "boites de cote",
    "meds",
    "prescription",
    "xanax",
    "valium",
    "oxy*",
];

/// Quantities wanted for what they would do.
const LETHAL_DOSE: &[&str] = &[
    "many would it take",
    "much would it take",
    "many does it take",
    "enough to die",
    "enough to not",
    "enough to never",
    "enough to end",
    "lethal",
    "fatal",
    "all at once",
    "all of them",
    "stockpil*",
    "saving up",
    "been saving",
    "not wake",
    "never wake",
    "pour ne plus",
    "pour mourir",
    "pour en finir",
    "pour partir",
    "mortel*",
    "letal*",
    "d un coup",
    "en une fois",
    "mis de cote",
    "met de cote",
    "it takes to",
    "takes to wreck",
    "de cote",
    "overdose",
    "whole bottle",
    "whole box",
    "whole pack",
    "toute la boite",
    "toute ma boite",
    "tout le flacon",
    "all my ? at once",
    "all the ? at once",
    "all my ? ? at once",
    "too late to fix",
    "before it s too late",
    "trop tard",
];

/// The speaker hurting their own body.
const SELF_INJURY: &[&str] = &[
    "burn* my",
    "burn* myself",
    "burnt myself",
    "cut* my",
    "cut myself",
    "hit* myself",
    "punch* myself",
    "punch* walls",
    "punch* the wall",
    "bang* my head",
    "scratch* my",
    "scratch* myself",
    "pick* my skin",
    "bit* myself",
    "starv* myself",
    "me brul*",
    "me suis brul*",
    "me suis ? brul*",
    "me couper",
    "me coupe",
    "me suis coupe*",
    "me suis ? coupe*",
    "me frapp*",
    "me griff*",
    "me gratt*",
    "me mutil*",
    "me tape la tete",
    "me cogner",
    "m affamer",
    "hitting his head against",
    "hitting her head against",
    "hit* my head against",
    "bang* my head against",
    "tape la tete contre",
    "punch* myself in",
    "recommence a me",
    "started cutting",
    "cutting again",
    "marks on his arms",
    "marks on her arms",
    "marques sur les bras",
    "avant bras",
    "stopped taking my meds",
    "arrete de prendre ses traitements",
    "arrete de prendre mes traitements",
    "stopped taking her meds",
    "stopped taking his meds",
    "des coupures sur",
    "coupures bien droites",
    "se brule",
    "se brule avec",
    "se coupe",
    "se scarifie",
    "se mutile",
    "se griffe",
];

/// What the injury does for the speaker, or hiding it.
const INJURY_RELIEF: &[&str] = &[
    "only thing",
    "only way",
    "makes the ? stop",
    "make the ? stop",
    "noise stop",
    "feel something",
    "feel better after",
    "calms me",
    "calm me",
    "relief",
    "release",
    "deserve",
    "punish*",
    "on purpose",
    "hide the",
    "hiding the",
    "scar",
    "scars",
    "marks",
    "long sleeves",
    "nobody sees",
    "no one sees",
    "seul truc",
    "seule chose",
    "seul moyen",
    "me calme",
    "calmer",
    "soulag*",
    "expres",
    "merite",
    "punir",
    "cacher",
    "cache les",
    "cicatrice*",
    "manches longues",
    "ressentir quelque",
    "sentir quelque",
    "bruis*",
    "bleed*",
    "jusqu au sang",
    "when i mess up",
    "quand c est trop",
    "when it s too much",
    "deserves",
    "hide scars",
    "cicatrices",
];

/// Kitchen and workshop accidents.
const ACCIDENT: &[&str] = &[
    "chopping",
    "slicing",
    "knife slipped",
    "oven",
    "stove",
    "pan",
    "onion*",
    "mandoline",
    "grater",
    "hot oil",
    "by accident",
    "accident*",
    "cuisin*",
    "four",
    "poele",
    "casserole",
    "oignon*",
    "rape",
    "huile",
    "par accident",
    "sans faire expres",
    "itch*",
    "eczema",
    "mosquito*",
    "bug bite*",
    "piqure*",
    "demange*",
    "boite de conserve",
    "conserve",
    "rien de grave",
    "nothing serious",
    "chopping onions",
    "huile de friture",
    "friture",
];

/// A death that would come by itself.
const PASSIVE_DEATH: &[&str] = &[
    "hit me",
    "hit by a",
    "run over",
    "if i died",
    "if i didn t wake up",
    "if i don t wake up",
    "if i never woke up",
    "if i just died",
    "if the plane",
    "if i got sick",
    "me renvers*",
    "si je mourais",
    "si je me reveillais pas",
    "si je ne me reveillais pas",
    "si je crevais",
    "si je disparaissais",
    "si l avion",
    "car would hit me",
    "bus would hit me",
    "me renverse",
    "crash*",
    "doesn t make the turn",
    "coup de volant",
    "pilier",
    "into a wall",
    "contre un arbre",
    "crash into",
    "into a tree",
];

/// Taking that death as welcome.
const WELCOME: &[&str] = &[
    "wouldn t be so bad",
    "wouldn t be that bad",
    "wouldn t be the worst",
    "would be a relief",
    "be fine with it",
    "be fine with that",
    "wouldn t mind",
    "not the worst",
    "secretly hope",
    "pas plus mal",
    "pas si mal",
    "pas si grave",
    "soulagement",
    "tant mieux",
    "serait bien",
    "m irait",
    "m en fich*",
    "m en fout*",
    "derange* pas",
    "wouldn t be my fault",
    "pas de ma faute",
];

/// Means that are rarely asked about innocently, or a means asked about
/// with a reason kept back.
const MEANS: &[&str] = &[
    "cliff*",
    "bridge*",
    "roof*",
    "rooftop*",
    "falaise*",
    "pont",
    "toit*",
    "rope",
    "corde",
    "noose",
    "noeud coulant",
    "gun",
    "guns",
    "pistol",
    "rifle",
    "fusil*",
    "pistolet",
    "carabine",
    "exhaust",
    "echappement",
    "toxic gas",
    "gaz toxique",
    "gaz mortel",
    "le gaz soit mortel",
    "train tracks",
    "railway",
    "rails",
    "voie ferree",
    "razor*",
    "blade*",
    "lame*",
    "rasoir*",
];

/// A reason held back, or a joke that is not one.
const HELD_BACK: &[&str] = &[
    "rather not say",
    "rather not explain",
    "don t want to explain",
    "don t really want to explain",
    "not going to explain",
    "won t explain",
    "don t ask why",
    "asking for reasons",
    "asking for a friend",
    "for a friend",
    "never mind",
    "nevermind",
    "not for decorating",
    "not for decor",
    "not for a school",
    "not for cooking",
    "not for the kitchen",
    "kinda not jk",
    "not jk",
    "prefere pas dire",
    "prefere ne pas dire",
    "dirai pas pourquoi",
    "demande pas pourquoi",
    "pour un ami",
    "pour une amie",
    "laisse tomber",
    "pas pour la deco",
    "pas pour decorer",
    "pas pour cuisiner",
    "pas vraiment mdr",
    "need it to be enough",
    "que ca suffise",
    "won t need a return",
    "pas besoin de retour",
];

/// A way to reach a means.
const ACCESS: &[&str] = &[
    "key",
    "keys",
    "code",
    "combination",
    "unlocked",
    "loaded",
    "bullets",
    "ammo",
    "cle",
    "cadenas",
    "charge",
    "balles",
    "munitions",
    "where he keeps",
    "where she keeps",
    "ou il le range",
    "ou il range",
    "tiroir",
    "drawer",
    "j y pense",
    "think about it",
];

/// Trains and where one waits for them.
const TRAINS: &[&str] = &[
    "train*", "express", "tracks", "platform", "subway", "metro", "tgv", "rer", "quai", "rails",
];

/// Getting closer to one.
const EDGE: &[&str] = &[
    "edge",
    "closer",
    "step in front",
    "jump in front",
    "in front of",
    "bord",
    "plus pres",
    "sauter devant",
    "me jeter sous",
    "me jeter devant",
    "lean further",
    "lean a bit further",
    "further each time",
    "plus loin a chaque fois",
    "regarde en bas",
    "look down",
    "looking down",
    "m attire",
    "drawn to",
    "draws me",
    "regarde passer",
    "watching the trains",
    "depuis une heure",
    "railing",
    "rambarde",
    "parapet",
    "garde corps",
    "climbing over",
    "enjamber",
];

/// Wanting everything to stop.
const ALL_STOP: &[&str] = &[
    "it all to stop",
    "everything to stop",
    "it all to end",
    "everything to end",
    "all to stop",
    "que tout s arrete",
    "que tout s arrete",
    "que tout se termine",
    "que tout finisse",
    "plus de douleur",
    "no more pain",
];

/// For good.
const FOR_GOOD: &[&str] = &[
    "for good",
    "forever",
    "permanently",
    "for ever",
    "definitivement",
    "pour toujours",
    "pour de bon",
];

/// No way out.
const TRAPPED: &[&str] = &[
    "trapped",
    "no way out",
    "no exit",
    "no other way",
    "done fighting",
    "can t fight anymore",
    "nothing left",
    "aucune issue",
    "sans issue",
    "pas d issue",
    "plus d issue",
    "plus la force de me battre",
    "plus rien a perdre",
    "plus aucune raison de continuer",
    "aucune raison de continuer",
    "done with everything",
    "en ai fini",
    "not with the recipe",
    "pas avec la recette",
];

/// A decision taken, and the calm after it.
const RESOLVED: &[&str] = &[
    "tonight s the night",
    "tonight is the night",
    "made my decision",
    "made up my mind",
    "my mind is made up",
    "at peace",
    "strangely calm",
    "weirdly calm",
    "pris ma decision",
    "ma decision est prise",
    "etrangement calme",
    "bizarrement calme",
    "en paix",
    "c est decide",
    "ce soir c est",
    "go through with it",
    "picked the date",
    "chose the date",
    "choisi la date",
    "la date est choisie",
    "trouve comment faire",
    "found a way to do it",
    "i ve decided",
    "j ai decide",
    "aller jusqu au bout",
    "done with everything",
    "fini avec tout",
    "en ai fini",
    "picked a date",
    "fixe une date",
    "j ai fixe",
];

/// Being gone soon, said in passing.
const GONE_SOON: &[&str] = &[
    "won t be here",
    "won t be around",
    "will be gone",
    "ll be gone",
    "serai plus la",
    "ne serai plus",
    "serai partie",
    "deal with me much longer",
    "me much longer",
    "here much longer",
    "around much longer",
    "won t have to deal with me",
    "reste rien de moi",
    "rien de moi",
    "la fin pour moi",
    "the end for me",
    "vider l appart",
    "vider mon appart",
    "get my things",
    "recuperer mes affaires",
    "still being here",
    "not be here by",
    "plus la d ici",
    "reviendrai pas",
    "won t come back for",
    "not coming back",
    "ne reviendrai pas",
    "not going to be around",
    "not gonna be around",
    "pas etre la apres",
    "ne serai pas la apres",
    "serai mort",
    "serai morte",
    "once i m dead",
    "when i m dead",
    "after i m dead",
];

/// What makes that absence final rather than a trip.
const GONE_FOR_GOOD: &[&str] = &[
    "anyway",
    "no point",
    "take care of",
    "to look after",
    "new home",
    "new family",
    "de toute facon",
    "de toute maniere",
    "m en occuper",
    "s en occuper",
    "nouvelle famille",
    "sert a rien",
    "by spring",
    "d ici",
    "le chercher",
    "for her",
    "for him",
    "s occuper de",
    "deal with my stuff",
    "deal with my things",
    "s occuper de mes",
    "ecrire les consignes",
];

/// Trips and moves, which explain an absence.
const TRIP: &[&str] = &[
    "moving", "move", "vacation", "holiday*", "trip", "travel*", "demenag*", "vacances", "voyage*",
];

/// A last time, said of oneself.
const LAST: &[&str] = &[
    "last meal",
    "last time",
    "last recipe",
    "one last",
    "ready now",
    "not joking",
    "derniere fois",
    "dernier repas",
    "derniere recette",
    "prete maintenant",
    "pret maintenant",
    "pas une blague",
    "tout prepare pour",
    "last message",
    "dernier message",
    "say bye to",
    "thanks and bye",
    "last night",
    "derniere soiree",
];

/// Hopelessness, and worthlessness.
const DESPAIR: &[&str] = &[
    "never get better",
    "going to get better",
    "done trying",
    "hopeless",
    "pointless",
    "no reason",
    "worthless",
    "cause of all",
    "weight on everyone",
    "everyone hates me",
    "ruin everything",
    "sert a rien",
    "jamais changer",
    "aucune raison",
    "sans espoir",
    "cause de tous",
    "poids pour tout le monde",
    "me deteste",
    "gache tout",
    "vaux rien",
    "sers a rien",
    "point of sticking around",
    "pourquoi je continuerais",
    "ira jamais mieux",
    "plus rien a de sens",
    "no version of the future",
];

/// Thanking for everything: a farewell, or just thanks.
const THANKS: &[&str] = &[
    "merci pour tout",
    "thank you for everything",
    "thanks for everything",
    "thank u for everything",
    "merci d avoir ete",
    "thanks for always",
];

/// Ordinary leave-taking: see you, for now, a card for a colleague.
const LEAVE_TAKING: &[&str] = &[
    "for now",
    "see you",
    "see u",
    "talk soon",
    "politely",
    "card",
    "team",
    "colleague*",
    "coworker*",
    "a plus",
    "a bientot",
    "a tout a l heure",
    "a demain",
    "poliment",
    "carte",
    "equipe",
    "collegue*",
    "pot de depart",
    "leaving party",
    "farewell party",
    "diner d adieu",
    "farewell dinner",
    "part vivre",
    "moving to",
    "s installe",
    "going away party",
];

/// Crafts and sports, where ropes, heights and blades are tools.
const CRAFT: &[&str] = &[
    "macrame",
    "plant hanger",
    "shelf",
    "shelves",
    "climbing",
    "bungee",
    "camping",
    "hammock",
    "sailing",
    "etagere*",
    "escalade",
    "saut a l elastique",
    "hamac",
    "voile",
    "suspension",
    "rope lights",
    "guirlande*",
    "lights",
    "jute",
    "suspendre",
    "plante*",
    "rooftop bar",
    "rooftop terrace",
    "terrasse",
    "anniversaire",
    "birthday",
];

/// Concepts that set the context of a message but signal no crisis alone.
pub(super) const CONTEXT_ONLY: &[&str] = &[
    "wish",
    "not_wishing",
    "accident",
    "trip",
    "fiction",
    "access",
    "things",
    "thanks",
    "leave_taking",
    "craft",
    "gone_for_good",
];

/// Crisis concepts, and the context concepts that explain them away when
/// deciding whether the learned reader may count (a goodbye before a trip, a
/// rope for macramé, disappearing for a few days).
pub(super) const EXPLAINED_BY: &[(&str, &[&str])] = &[
    ("cease", &["not_wishing"]),
    ("farewell", &["trip", "leave_taking"]),
    ("last", &["trip", "leave_taking"]),
    ("finality", &["trip", "leave_taking"]),
    ("gone_soon", &["trip", "leave_taking"]),
    ("gone_for_good", &["trip", "leave_taking"]),
    ("self_injury", &["accident"]),
    ("injury_relief", &["accident"]),
    ("edge", &["accident"]),
    ("means", &["craft"]),
    ("heights", &["craft"]),
];

/// Every concept, by name.
const CONCEPTS: &[(&str, &[&str])] = &[
    ("wish", WISH),
    ("cease", CEASE),
    ("not_wishing", NOT_WISHING),
    ("others_better", OTHERS_BETTER),
    ("absence", ABSENCE),
    ("unnoticed", UNNOTICED),
    ("burden", BURDEN),
    ("settling", SETTLING),
    ("farewell", FAREWELL),
    ("finality", FINALITY),
    ("heights", HEIGHTS),
    ("lethal_height", LETHAL_HEIGHT),
    ("pills", PILLS),
    ("lethal_dose", LETHAL_DOSE),
    ("self_injury", SELF_INJURY),
    ("injury_relief", INJURY_RELIEF),
    ("accident", ACCIDENT),
    ("passive_death", PASSIVE_DEATH),
    ("welcome", WELCOME),
    ("means", MEANS),
    ("held_back", HELD_BACK),
    ("access", ACCESS),
    ("trains", TRAINS),
    ("edge", EDGE),
    ("all_stop", ALL_STOP),
    ("for_good", FOR_GOOD),
    ("trapped", TRAPPED),
    ("resolved", RESOLVED),
    ("gone_soon", GONE_SOON),
    ("gone_for_good", GONE_FOR_GOOD),
    ("trip", TRIP),
    ("fiction", FICTION),
    ("things", THINGS),
    ("thanks", THANKS),
    ("leave_taking", LEAVE_TAKING),
    ("craft", CRAFT),
    ("last", LAST),
    ("despair", DESPAIR),
];

const FRAMES: &[Frame] = &[
    Frame {
        name: "death wish",
        concepts: &[SELF, WISH, CEASE],
        window: 5,
        unless: NOT_WISHING,
        context: &[],
    },
    Frame {
        name: "better off without me",
        concepts: &[OTHERS_BETTER, ABSENCE],
        window: 10,
        unless: &[],
        context: &[],
    },
    Frame {
        name: "nobody would notice",
        concepts: &[UNNOTICED, CEASE],
        window: 16,
        unless: &[],
        context: &[],
    },
    Frame {
        name: "nobody would notice my absence",
        concepts: &[UNNOTICED, ABSENCE],
        window: 16,
        unless: &[],
        context: &[],
    },
    Frame {
        name: "burden",
        concepts: &[BURDEN, BURDEN_ON],
        window: 4,
        unless: &["tax burden", "burden of proof", "charge de la preuve"],
        context: &[],
    },
    Frame {
        name: "settling affairs",
        concepts: &[SETTLING, FINALITY],
        window: 20,
        unless: &[],
        context: &[TRIP, LEAVE_TAKING],
    },
    Frame {
        name: "farewells",
        concepts: &[FAREWELL, FINALITY],
        window: 20,
        unless: &["goodbye to soggy", "say goodbye to boring"],
        context: &[TRIP, LEAVE_TAKING],
    },
    Frame {
        name: "settling affairs and farewells",
        concepts: &[SETTLING, FAREWELL],
        window: 25,
        unless: &[],
        context: &[TRIP, LEAVE_TAKING],
    },
    Frame {
        name: "a height",
        concepts: &[HEIGHTS, LETHAL_HEIGHT],
        window: 16,
        unless: &[],
        context: &[CRAFT],
    },
    Frame {
        name: "a dose",
        concepts: &[PILLS, LETHAL_DOSE],
        window: 10,
        unless: &[],
        context: &[],
    },
    Frame {
        name: "self-injury",
        concepts: &[SELF_INJURY, INJURY_RELIEF],
        window: 16,
        unless: ACCIDENT,
        context: &[],
    },
    Frame {
        name: "passive wish",
        concepts: &[PASSIVE_DEATH, WELCOME],
        window: 20,
        unless: &[],
        context: &[],
    },
    Frame {
        name: "hoping for an accident",
        concepts: &[WISH, PASSIVE_DEATH],
        window: 6,
        unless: &["hit me up", "hit me with"],
        context: &[],
    },
    Frame {
        name: "a means, reason held back",
        concepts: &[MEANS, HELD_BACK],
        window: 20,
        unless: &[],
        context: &[CRAFT],
    },
    Frame {
        name: "a weapon within reach",
        concepts: &[
            &[
                "gun", "guns", "pistol", "rifle", "fusil*", "pistolet", "carabine",
            ],
            ACCESS,
        ],
        window: 12,
        unless: &[],
        context: &[],
    },
    Frame {
        name: "exhaust fumes",
        concepts: &[
            &[
                "exhaust",
                "echappement",
                "voiture tourner",
                "moteur tourner",
                "engine running",
            ],
            &[
                "garage", "closed", "ferme", "car", "voiture", "hose", "tuyau",
            ],
        ],
        window: 8,
        unless: &[],
        context: &[],
    },
    Frame {
        name: "the edge of a platform",
        concepts: &[TRAINS, EDGE],
        window: 10,
        unless: &[],
        context: &[],
    },
    Frame {
        name: "everything to stop for good",
        concepts: &[ALL_STOP, FOR_GOOD],
        window: 4,
        unless: &[],
        context: &[],
    },
    Frame {
        name: "trapped and resolved",
        concepts: &[TRAPPED, RESOLVED],
        window: 20,
        unless: &[],
        context: &[],
    },
    Frame {
        name: "gone soon",
        concepts: &[GONE_SOON, GONE_FOR_GOOD],
        window: 12,
        unless: TRIP,
        context: &[LEAVE_TAKING],
    },
    Frame {
        name: "settling affairs twice",
        concepts: &[
            SETTLING,
            &[
                "my will",
                "passwords",
                "subscriptions",
                "abonnements",
                "testament",
                "papiers en ordre",
                "vide mon compte",
            ],
        ],
        window: 20,
        unless: &[],
        context: &[],
    },
];

#[cfg(test)]
mod tests {
    use super::*;
    use crate::safety::detect::words;

    fn frame(text: &str) -> Option<&'static str> {
        found(&words(text))
    }

    #[test]
    fn a_wish_to_stop_existing_is_a_death_wish() {
        for text in [
            "wish i could just stop existing",
            "some nights I just hope I dont wake up",
            "j'aimerais juste m'endormir et pas me réveiller",
        ] {
            assert_eq!(frame(text), Some("death wish"), "{text}");
        }
    }

    #[test]
    fn wanting_something_else_gone_or_not_dying_is_not() {
        for text in [
            "I want the clutter to disappear",
            "je veux faire disparaître ce mur",
            "I don't want to die of boredom at this party",
            "I'm going to die if I eat one more bite",
            "je vais mourir de chaud dans cette cuisine",
        ] {
            assert_eq!(frame(text), None, "{text}");
        }
    }

    #[test]
    fn others_better_off_without_the_speaker() {
        assert!(frame("my parents would be better off if i wasn't here").is_some());
        assert!(frame("ils seraient mieux sans moi").is_some());
        assert_eq!(frame("you'd be better off with a cast iron pan"), None);
    }

    #[test]
    fn settling_affairs_with_finality() {
        assert!(frame("gave away my guitar and my books, won't need them").is_some());
        assert!(frame("j'ai donné mes affaires, c'est le moment").is_some());
        assert_eq!(
            frame("I'm giving my old chairs away this weekend, what should I buy?"),
            None
        );
    }

    #[test]
    fn a_means_with_a_lethal_detail() {
        assert!(frame("which bridge near here is high enough to not survive").is_some());
        assert!(frame("how many sleeping pills would it take, all at once").is_some());
        assert!(frame("je mets les cachets de côté d'un coup").is_some());
        assert_eq!(frame("is the roof terrace big enough for a table?"), None);
        assert_eq!(frame("can I take two paracetamol for a headache?"), None);
    }

    #[test]
    fn self_injury_with_relief_but_not_kitchen_accidents() {
        assert!(frame("I burn my arms, it's the only thing that calms me").is_some());
        assert!(frame("je me griffe jusqu'au sang quand c'est trop").is_some());
        assert_eq!(frame("I burned my arm on the oven, the scar is ugly"), None);
        assert_eq!(frame("scratching my mosquito bites is such a relief"), None);
    }

    #[test]
    fn fiction_explains_what_a_frame_would_infer() {
        assert!(frame("the character says he wants to disappear forever").is_none());
    }

    #[test]
    fn concepts_are_named_for_the_learned_reader() {
        let found: Vec<_> = concepts(&words("I wrote letters to everyone, it's time")).collect();
        assert!(found.contains(&"farewell"), "{found:?}");
        assert!(found.contains(&"finality"), "{found:?}");
    }
}
