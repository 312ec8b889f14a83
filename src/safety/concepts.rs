//! The concepts crisis frames are made of ([`super::frames`]): each a list
//! of cues, in English and French, in the syntax of [`super::detect`]. Some
//! signal crisis (a wish to cease, a burden, a farewell, a means); others
//! only set context (a trip, a film, a kitchen accident, a craft) that
//! explains a frame away.

use crate::lang::Words;

/// Stories, where these frames describe characters.
pub(super) static FICTION: Words = Words::named("fiction");

/// Plants, batteries and sourdough starters dying: nobody is in danger.
pub(super) static THINGS: Words = Words::named("things");

/// The speaker.
pub(super) static SELF: Words = Words::named("self");

/// Wanting, planning, intending, hoping.
pub(super) static WISH: Words = Words::named("wish");

/// The speaker's life ending, said without saying it.
pub(super) static CEASE: Words = Words::named("cease");

/// Saying one does not wish to die is not a wish to die.
pub(super) static NOT_WISHING: Words = Words::named("not_wishing");

/// Others, who would be fine without the speaker.
pub(super) static OTHERS_BETTER: Words = Words::named("others_better");

/// The speaker gone.
pub(super) static ABSENCE: Words = Words::named("absence");

/// Nobody would notice or miss the speaker.
pub(super) static UNNOTICED: Words = Words::named("unnoticed");

/// Feeling a burden to others.
pub(super) static BURDEN: Words = Words::named("burden");

/// Who the burden weighs on, or the speaker feeling it.
pub(super) static BURDEN_ON: Words = Words::named("burden_on");

/// Putting one's affairs in order, giving things away.
pub(super) static SETTLING: Words = Words::named("settling");

/// Farewells and letters for afterwards.
pub(super) static FAREWELL: Words = Words::named("farewell");

/// It is about to happen, or will not matter after.
pub(super) static FINALITY: Words = Words::named("finality");

/// Where people fall from.
pub(super) static HEIGHTS: Words = Words::named("heights");

/// A height wanted for what it would do, or a place to be alone at it.
pub(super) static LETHAL_HEIGHT: Words = Words::named("lethal_height");

/// Medicines someone could take too many of.
pub(super) static PILLS: Words = Words::named("pills");

/// Quantities wanted for what they would do.
pub(super) static LETHAL_DOSE: Words = Words::named("lethal_dose");

/// The speaker hurting their own body.
pub(super) static SELF_INJURY: Words = Words::named("self_injury");

/// What people hurt themselves with.
pub(super) static HARM_TOOL: Words = Words::named("harm_tool");

/// Where people hurt themselves.
pub(super) static BODY: Words = Words::named("body");

/// Shaving, tests, tattoos: tools on skin that hurt no one.
pub(super) static CARE: Words = Words::named("care");

/// What the injury does for the speaker, or hiding it.
pub(super) static INJURY_RELIEF: Words = Words::named("injury_relief");

/// Kitchen and workshop accidents.
pub(super) static ACCIDENT: Words = Words::named("accident");

/// A death that would come by itself.
pub(super) static PASSIVE_DEATH: Words = Words::named("passive_death");

/// Taking that death as welcome.
pub(super) static WELCOME: Words = Words::named("welcome");

/// Means that are rarely asked about innocently, or a means asked about
/// with a reason kept back.
pub(super) static MEANS: Words = Words::named("means");

/// A reason held back, or a joke that is not one.
pub(super) static HELD_BACK: Words = Words::named("held_back");

/// A way to reach a means.
pub(super) static ACCESS: Words = Words::named("access");

/// Trains and where one waits for them.
pub(super) static TRAINS: Words = Words::named("trains");

/// Getting closer to one.
pub(super) static EDGE: Words = Words::named("edge");

/// Wanting everything to stop.
pub(super) static ALL_STOP: Words = Words::named("all_stop");

/// For good.
pub(super) static FOR_GOOD: Words = Words::named("for_good");

/// No way out.
pub(super) static TRAPPED: Words = Words::named("trapped");

/// A decision taken, and the calm after it.
pub(super) static RESOLVED: Words = Words::named("resolved");

/// Being gone soon, said in passing.
pub(super) static GONE_SOON: Words = Words::named("gone_soon");

/// What makes that absence final rather than a trip.
pub(super) static GONE_FOR_GOOD: Words = Words::named("gone_for_good");

/// Trips and moves, which explain an absence.
pub(super) static TRIP: Words = Words::named("trip");

/// A last time, said of oneself.
pub(super) static LAST: Words = Words::named("last");

/// Hopelessness, and worthlessness.
pub(super) static DESPAIR: Words = Words::named("despair");

/// Thanking for everything: a farewell, or just thanks.
pub(super) static THANKS: Words = Words::named("thanks");

/// Ordinary leave-taking: see you, for now, a card for a colleague.
pub(super) static LEAVE_TAKING: Words = Words::named("leave_taking");

/// Crafts and sports, where ropes, heights and blades are tools.
pub(super) static CRAFT: Words = Words::named("craft");
