/* The lexicons of domain/reply.c (see reply_lexicon.h): the word and phrase tables that
 * decide whether a reply asks to stop the e-mails, is an automatic out-of-office notice, or
 * speaks of security or an integration, and the matchers over them. reply.c calls these
 * for sa_reply_clean (footer sentences); domain/intent.c through reply.h.
 *
 * Every table is folded and normalised (sa_reply_normalise: lowercase, no diacritics, words
 * joined by one space) and listed once in `lexicons` below, so a test can check each entry's
 * form and a matcher names the table it reads. The lexicons hold phrases, not single words,
 * wherever a word alone is ambiguous: "opt out" is a request in "please opt me out" but a
 * feature in "do recipients get an opt-out link?", so a bare request word ("unsubscribe",
 * "austragen") only counts when the text does not speak of links, footers, tools or
 * compliance. */
#include "domain/reply_lexicon.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "domain/reply.h"

/* ---- matching helpers ----------------------------------------------------------------- */

/* Whether normalised text holds phrase (normalised, without the outer spaces) as whole
 * words. */
static bool has_phrase(const char *norm, const char *phrase)
{
    size_t pl = strlen(phrase);
    for (const char *p = strstr(norm, phrase); p; p = strstr(p + 1, phrase))
        if (p > norm && p[-1] == ' ' && p[pl] == ' ')
            return true;
    return false;
}

static bool has_any(const char *norm, const char *const *phrases)
{
    for (size_t i = 0; phrases[i]; i++)
        if (has_phrase(norm, phrases[i]))
            return true;
    return false;
}

static bool in_list(const char *w, size_t wl, const char *const *list)
{
    for (size_t i = 0; list[i]; i++)
        if (strlen(list[i]) == wl && strncmp(list[i], w, wl) == 0)
            return true;
    return false;
}

/* ---- tables --------------------------------------------------------------------------- */

/* Phrases asking to stop the e-mails, folded and normalised. */
/* clang-format off */
static const char *const unsubscribe_phrases[] = {
    /* en */
    "unsubscribe me", "please unsubscribe", "unsubscribe please", "want to unsubscribe",
    "like to unsubscribe", "opt me out", "opt out of your", "opt out of these",
    "opt out of this", "opt out of all", "opt out please", "want to opt out",
    "remove me from", "remove my email", "remove my address", "remove my e mail",
    "take me off", "stop emailing", "stop e mailing", "stop mailing", "stop sending me",
    "stop sending these", "stop sending this", "stop sending your", "stop sending us",
    "stop sending emails", "stop sending e mails", "stop sending mails", "stop sending messages",
    "stop sending any", "stop sending follow ups", "stop sending followups",
    "stop contacting", "stop writing to me", "do not email", "dont email", "don t email",
    "do not contact me", "dont contact me", "don t contact me", "never contact me",
    "no more emails", "no more e mails", "leave me alone", "delete me from",
    "off your list", "off your mailing list", "me off the list", "stop spamming",
    "do not send me any", "don t send me any", "dont send me any", "do not send me more",
    "don t send me more", "dont send me more", "do not send me emails", "don t send me emails",
    "dont send me emails", "do not send me further", "don t send me further",
    "do not send me anything", "don t send me anything", "dont send me anything",
    "quit emailing", "stop the emails",
    "stop these emails", "stop with the emails", "unsubscribed", "remove me please",
    "please remove me", "just remove me", "remove me and", "remove this address",
    "remove from list", "remove from your list", "remove from your lists", "remove it from your",
    "from your lists", "off your distribution list", "do not contact list", "unsub me",
    "cease all contact", "no further contact", "do not call or email", "dont want any more emails",
    "don t want any more emails", "make it stop", "stop reaching out", "stop the sequence",
    "cancel my subscription", "want off", "never gave consent", "please delete my",
    "delete my contact", "delete my details", "bitte loschen sie meine", "merci de supprimer mes",
    "por favor borren mis", "per favore cancellate i miei", "por favor apaguem meus",
    "verwijder mijn gegevens", "never signed up for this", "never signed up for these",
    "from your mailing list", "from your mailing lists", "from your email list",
    "from your e mail list", "from your distribution list", "from all your lists",
    "from your newsletter", "from your mailings",
    /* de */
    "tragen sie mich bitte aus", "keine weiteren nachrichten", "mochte keine weiteren",
    "melden sie mich ab", "melde mich ab", "melden mich ab", "mich abmelden",
    "tragen sie mich aus", "mich austragen", "keine e mails mehr", "keine emails mehr",
    "keine mails mehr", "keine nachrichten mehr", "keine weiteren e mails",
    "keine weiteren emails", "keine weiteren mails", "keine werbung", "nicht mehr kontaktieren",
    "nicht mehr anschreiben", "nicht mehr schreiben", "schreiben sie mir nicht",
    "kontaktieren sie mich nicht", "mich von der liste", "von der liste streichen",
    "von der liste nehmen", "von ihrer liste", "von eurer liste",
    "aus dem verteiler", "aus ihrem verteiler", "aus eurem verteiler", "aus ihrer liste",
    "horen sie auf mir", "nicht mehr mailen", "keine mails", "abbestellen",
    "loschen sie meine e mail adresse", "loschen sie meine adresse", "aus der liste",
    "kontaktieren sie mich bitte nicht", "horen sie bitte auf", "austragung",
    "entfernen sie meine adresse", "entfernen sie mich", "stoppen sie bitte diese",
    "stoppen sie diese", "nicht mehr zu kontaktieren", "streichen sie mich", "streicht mich",
    "aus ihrer kartei", "aus ihrem adressbestand", "aus ihrer datenbank",
    /* fr */
    "desabonnez moi", "desinscrivez moi", "me desabonner", "me desinscrire", "retirez moi",
    "retirer de votre liste", "retirez mon adresse", "supprimez moi", "supprimer de votre liste",
    "supprimez mon adresse", "ne plus recevoir", "ne m ecrivez plus", "ne me contactez plus",
    "ne plus me contacter", "arretez de m ecrire", "arretez de m envoyer",
    "arretez les mails", "arretez les emails", "plus de mails", "plus d emails",
    "plus d e mails", "desinscription", "desabonnement", "cessez de m ecrire",
    "cessez de m envoyer", "ne veux plus recevoir", "ne souhaite plus recevoir",
    "cesser de m envoyer", "ne plus m ecrire", "ne plus m envoyer", "ne m envoyez plus", "retirez mon email", "retirez mon e mail",
    "jamais demande a recevoir", "ne souhaite plus etre contacte", "ne plus etre contacte",
    "ne veux plus etre contacte", "ne souhaite plus etre sollicite",
    /* es */
    "darme de baja", "denme de baja", "dame de baja", "dar de baja", "dadme de baja",
    "no me escriban mas", "no me escribas mas", "no me escriban", "no me envien mas",
    "no me manden mas", "no me contacten", "dejen de escribirme", "dejen de enviarme",
    "deja de escribirme", "dejar de recibir", "no quiero recibir mas", "no quiero recibir",
    "eliminenme", "quitenme", "sacarme de la lista", "sacadme", "borrenme", "que me eliminen",
    "saquenme", "borren mi correo", "paren de mandarme", "paren de enviarme", "baja por favor",
    "cancelar suscripcion", "cancelar mi suscripcion", "dese de baja", "darse de baja",
    "denos de baja", "desuscribirme", "no mas correos",
    "no mas emails", "no mas e mails", "no mas mails", "no mas mensajes", "ni un correo mas",
    /* it */
    "disiscrivetemi", "disiscrivermi", "cancellatemi", "cancellami", "rimuovetemi",
    "rimuovermi", "non scrivetemi piu", "non scrivermi piu", "non scrivetemi",
    "non voglio piu ricevere", "non voglio ricevere", "smettete di scrivermi",
    "smettete di inviarmi", "smettetela", "toglietemi", "togliete il mio",
    "disiscrizione", "non contattatemi", "non mi contattate", "non inviatemi", "non mandatemi",
    "eliminate il mio indirizzo",
    "cancellare la mia iscrizione", "dalla vostra lista", "basta email",
    "basta e mail", "basta mail", "basta messaggi", "niente piu email", "niente piu mail",
    "mai piu email",
    /* pt */
    "cancelar inscricao", "cancelar a inscricao", "cancelar minha inscricao",
    "descadastrar", "descadastre", "descadastrem", "descadastra", "remover meu email",
    "remover meu e mail", "removam me", "remova me", "me remova", "me removam",
    "me tirem", "tirem me", "nao quero receber", "nao me enviem", "nao me mandem",
    "parem de enviar", "parem de me enviar", "parem de mandar", "deixar de receber",
    "sair da lista", "sair da sua lista", "nao me contactem", "nao me contatem",
    "descadastro", "nao quero mais receber", "remova meu e mail", "remova meu email",
    "parem de me mandar", "me remover da", "remover me da", "remover da lista",
    "me retirar da", "retirar da lista", "me tirar da", "tirar da lista", "retirem meu", "retirem o meu", "retire o meu", "retirem me da", "nao enviem mais", "chega de emails", "chega de e mails", "chega de mensagens",
    "nada de emails", "sem mais emails", "nao mais emails",
    /* nl */
    "afmelden", "meld me af", "meld mij af", "uitschrijven", "schrijf me uit",
    "schrijf mij uit", "haal me van", "haal mij van", "verwijder me", "verwijder mij",
    "geen e mails meer", "geen emails meer", "geen mails meer", "geen mail meer",
    "stop met mailen", "niet meer mailen", "mail me niet", "mail mij niet",
    "niet meer contacteren", "niet meer benaderen", "uit jullie mailinglijst",
    "van jullie lijst", "van uw lijst", "uit uw bestand", "geen contact meer",
    "geen berichten meer", "verwijder mijn e mailadres", "verwijder mijn emailadres",
    "verwijder mijn adres", "uit jullie bestand", "van jullie mailinglijst",
    "van de mailinglijst", "haal mij alstublieft van", "haal me alstublieft van",
    "uitgeschreven worden", "uitgeschreven te worden", "wil me uitschrijven",
    /* it, more */
    "cancellarmi dalla", "rimuovermi dalla", "dalla vostra mailing list",
    "dalla vostra mailing", "dalle vostre liste", "non inviatemi piu",
    /* pl */
    "wypisz mnie", "wypiszcie mnie", "mnie wypisac", "mnie wypisac z", "prosze o wypisanie", "o wypisanie z", "wypisac mnie",
    "usun mnie", "usuncie mnie", "usunac mnie", "o usuniecie mnie", "o usuniecie mojego",
    "usuniecie mojego adresu", "usunac moj adres", "usuncie moj adres", "nie chce otrzymywac",
    "nie chce dostawac", "nie wysylajcie mi", "prosze nie wysylac", "prosze nie pisac",
    "nie piszcie do mnie", "nie kontaktujcie sie ze mna", "prosze sie ze mna nie kontaktowac",
    "rezygnuje z subskrypcji", "wypisuje sie", "z waszej listy", "z panstwa listy",
    /* sv */
    "ta bort mig", "tag bort mig", "avregistrera mig", "avsluta min prenumeration",
    "avsluta prenumerationen",
    "avanmal mig", "sluta skicka", "sluta maila", "sluta mejla", "sluta kontakta mig",
    "vill inte fa fler", "vill inte ha fler", "vill inte langre fa", "inga fler mejl",
    "inga fler mail", "inga fler e post", "inga fler utskick", "kontakta mig inte",
    "skicka inte fler", "stryk mig", "fran er lista", "fran er e postlista",
    "fran era utskick", NULL};
/* clang-format on */

/* Requests made for a team ("take us off your list", "tragen Sie uns aus", "désabonnez-nous"):
 * requests like the phrases above, and never a footer, which speaks of "us" as the sender. */
/* clang-format off */
static const char *const team_requests[] = {
    /* en */
    "unsubscribe us", "remove us", "take us off", "opt us out", "delete us", "us off your",
    "us off the list", "us off this list", "stop emailing us", "stop contacting us",
    "do not email us", "dont email us", "don t email us", "do not contact us",
    "dont contact us", "don t contact us", "remove our email", "remove our address",
    "remove our addresses", "remove our company", "remove our team",
    /* de */
    "tragen sie uns aus", "tragen sie uns bitte aus", "uns austragen", "uns abmelden",
    "melden sie uns ab", "nehmen sie uns aus", "nehmen sie uns von", "nehmen sie uns bitte aus",
    "entfernen sie uns", "loschen sie uns", "streichen sie uns", "uns aus ihrem verteiler",
    "uns aus dem verteiler", "uns von ihrer liste", "uns von der liste",
    "schreiben sie uns nicht", "kontaktieren sie uns nicht",
    /* fr */
    "desabonnez nous", "desinscrivez nous", "retirez nous", "supprimez nous", "nous desabonner",
    "nous desinscrire", "nous retirer de", "nous supprimer de", "ne nous ecrivez plus",
    "ne nous contactez plus", "ne plus nous contacter", "ne plus nous ecrire",
    "ne plus nous envoyer",
    /* es */
    "denos de baja", "dennos de baja", "darnos de baja", "quitennos", "eliminennos",
    "borrennos", "sacarnos de la lista", "sacarnos de su lista", "saquennos", "no nos escriban", "no nos envien",
    "no nos contacten", "dejen de escribirnos", "dejen de enviarnos",
    /* it */
    "cancellateci", "rimuoveteci", "disiscriveteci", "toglieteci", "non scriveteci",
    "non contattateci", "non inviateci", "smettete di scriverci", "smettete di inviarci",
    /* pt */
    "nos remova", "nos removam", "remova nos", "removam nos", "nos descadastre",
    "nos descadastrem", "descadastrem nos", "nos tirem", "tirem nos", "nao nos enviem",
    "nao nos contatem", "nao nos mandem", "nos retirem", "parem de nos enviar",
    /* nl */
    "meld ons af", "schrijf ons uit", "haal ons van", "haal ons uit", "verwijder ons",
    "mail ons niet", NULL};
/* clang-format on */

/* Phrases that hold a request's words but ask something else: to leave a thread or an
 * invite ("remove me from the CC", "take me off this thread"), what the writer did
 * elsewhere ("I unsubscribed my team from our old tool"), a call instead of e-mails. They
 * are blanked out before the lexicon is matched. */
/* clang-format off */
static const char *const not_request_phrases[] = {
    "remove me from the cc", "remove me from cc", "remove me from this thread",
    "remove me from the thread", "remove me from this email thread", "remove me from the invite",
    "remove me from the meeting", "remove me from the call", "remove me from the loop",
    "remove me from this chain", "remove me from the chain", "take me off the cc",
    "take me off cc", "take me off this thread", "take me off the thread",
    "take me off the invite", "take me off the meeting", "take me off this chain",
    "take me off the chain", "take me off the loop", "remove us from the cc",
    "remove us from cc", "remove us from this thread", "remove us from the thread",
    "remove us from the invite", "remove us from the meeting", "take us off the cc",
    "take us off cc", "take us off this thread", "take us off the thread",
    "take us off the invite", "take us off the meeting", "unsubscribed my", "unsubscribed our",
    "unsubscribed the", "unsubscribed them", "unsubscribed him", "unsubscribed her",
    "no more emails needed", "no more e mails needed", "no more emails necessary",
    "nehmen sie mich aus dem cc", "nehmen sie mich aus cc", "retirez moi de la boucle",
    NULL};
/* clang-format on */

/* Requests no report of a delivery problem makes: the writer asks, in the first person, to
 * be taken off a list, in words that can mean nothing else. They are read before the
 * delivery words, so "this was sent in error, take me off your list" is an opt-out. Looser
 * phrases ("remove my address", "I don't want to receive") come after them: "an error in
 * the invoice, remove my address from the billing contact" is not a request to us. */
/* clang-format off */
static const char *const explicit_requests[] = {
    /* en: the list named, or a verb that says nothing else */
    "unsubscribe me", "opt me out", "take me off your list", "take me off your mailing list",
    "take me off your email list", "take me off the list", "take me off the mailing list",
    "remove me from your list", "remove me from your mailing list",
    "remove me from your email list", "remove me from the mailing list",
    "remove me from your database", "remove my email from your list",
    "remove my address from your list",
    /* a negated want with our mail as its object (not "... a call, just email me") */
    "do not want to receive these emails", "do not want to receive your emails",
    "do not want to receive any more emails", "do not want to receive any emails",
    "do not want to receive emails from you", "do not wish to receive these emails",
    "do not wish to receive your emails", "do not wish to receive any more emails",
    "don t want to receive these emails", "don t want to receive your emails",
    "don t want to receive any more emails", "don t want to receive any emails",
    "don t want to receive emails from you", "don t wish to receive these emails",
    "don t wish to receive your emails", "don t wish to receive any more emails",
    "dont want to receive these emails", "dont want to receive your emails",
    "dont want to receive any more emails", "dont want to receive any emails",
    "dont want to receive emails from you", "dont wish to receive these emails",
    "dont wish to receive your emails", "dont wish to receive any more emails",
    "no longer want to receive these emails", "no longer want to receive your emails",
    "no longer want to receive any more emails", "no longer want to receive any emails",
    "no longer want to receive emails from you", "no longer wish to receive these emails",
    "no longer wish to receive your emails", "no longer wish to receive any more emails",
    /* de */
    "tragen sie mich aus", "tragen sie mich bitte aus", "melden sie mich ab", "mich austragen",
    "mich abmelden", "aus ihrem verteiler", "mich von ihrer liste", "mich bitte von ihrer liste",
    /* fr */
    "desabonnez moi", "desinscrivez moi", "me desabonner", "me desinscrire",
    "retirez moi de votre liste", "me retirer de votre liste", "me supprimer de votre liste",
    "supprimez moi de votre liste",
    /* es */
    "darme de baja", "denme de baja", "dame de baja", "dadme de baja", "sacarme de la lista",
    "eliminenme de su lista", "eliminarme de su lista", "quitenme de su lista",
    "sacarme de su lista", "borrenme de su lista",
    /* it, nl */
    "cancellatemi", "disiscrivetemi", "meld me af", "meld mij af", "schrijf me uit",
    "schrijf mij uit", NULL};
/* clang-format on */

/* Words of a delivery problem: "Seit gestern kommen keine E-Mails mehr an" reports a bug,
 * though it holds "keine E-Mails mehr"; the lexicon leaves such texts to the model. */
/* clang-format off */
static const char *const delivery_problem[] = {
    "error", "errors", "bug", "fehler", "fehlermeldung", "erreur", "errore", "erro",
    "fout", "foutmelding", "kommen keine", "kommen nicht", "ankommen", "an kommen",
    "werden keine", "bekommen keine", "empfangen keine", "zugestellt", "arrivent",
    "n arrivent", "llegan", "arrivano", "chegam", "aankomen", "komen geen", "komen niet",
    "not receiving", "not being sent", "aren t being sent", "arent being sent",
    "don t arrive", "dont arrive", "bounce", "bounced", "bouncing", "since the update",
    "seit dem update", NULL};
/* clang-format on */

/* Single words that ask to stop by themselves ("Austragen."), unless the text is about a
 * product (links, footers...); matched with one typo (two from eleven letters). */
static const char *const unsubscribe_words[] = {"unsubscribe",   "unsubscribing",
                                                "abmelden",      "austragen",
                                                "desabonner",    "desinscrire",
                                                "desabonnez",    "desinscrivez",
                                                "desuscribir",   "desuscribirme",
                                                "disiscrivere",  "disiscrivetemi",
                                                "disiscrivermi", "descadastrar",
                                                "descadastre",   "uitschrijven",
                                                "afmelden",      "abbestellen",
                                                "stop",          "remove",
                                                "baja",          NULL};

/* Words meaning the text talks about an unsubscribe feature, not asking for one. */
/* clang-format off */
static const char *const product_context[] = {
    "link", "links", "footer", "feature", "function", "button", "header", "headers",
    "automatically", "tool", "platform", "software", "gdpr", "dsgvo", "rgpd", "compliance",
    "recipients", "prospects", "contacts", "customers", "kunden", "empfanger", "clients",
    "destinataires", "clientes", "destinatari", "klanten", "campaign", "campaigns",
    "sequence", "sequences", "handle", "handles", "does your", "can your", "do you support",
    "list unsubscribe", "api", "rate", NULL};
/* clang-format on */

/* Words one or two edits from a request word that mean something else ("anmelden" is to
 * sign up, "resubscribe" the opposite). */
/* clang-format off */
static const char *const words_not_typos[] = {
    "anmelden", "aanmelden", "subscribe", "subscribed", "subscribing", "subscriber",
    "subscribers", "resubscribe", "resubscribed", "unsubscribers", "stops", "store", "step",
    "stay", "shop", "stopp", "removed", "angemeldet", "eintragen", "abonner", "sabonner",
    NULL};
/* clang-format on */

/* Words of unsubscribing, beside the request phrases: a footer speaks of it without asking. */
/* clang-format off */
static const char *const unsubscribe_topic[] = {
    "unsubscribe", "unsubscribing", "opt out", "stop receiving", "no longer receive",
    "abmelden", "abbestellen", "austragen", "desinscrire", "desabonner", "desinscrivez",
    "desabonnez", "desinscription", "desabonnement", "de baja", "darse de baja",
    "desuscribir", "disiscrivere", "disiscriverti", "disiscriviti", "disiscrizione",
    "descadastrar", "descadastre", "cancelar a inscricao", "uitschrijven", "afmelden",
    "af te melden", "uit te schrijven", "wypisac", "wypisz", "wypisanie", "avregistrera",
    "avsluta prenumerationen", NULL};
/* clang-format on */

/* What marks a footer's instructions: a link to click, "our newsletter", an offer to the
 * reader ("if you no longer wish to receive..."), our own e-mails' closing line. */
/* clang-format off */
static const char *const footer_markers[] = {
    "http", "https", "www", "click", "klicken", "klick", "cliquez", "cliquer", "cliquant",
    "haga clic", "hacer clic", "pulse aqui", "pinche aqui", "clicca", "cliccando", "clicchi",
    "clique", "klik", "klikt", "kliknij", "klicka", "our newsletter", "our newsletters",
    "our mailing list", "our mailing lists", "our mailings", "our marketing",
    "our communications", "unseren newsletter", "unserem newsletter", "unsere newsletter",
    "unser newsletter", "notre newsletter", "notre lettre", "nos newsletters",
    "nos communications", "nuestro boletin", "nuestros boletines", "nuestra newsletter",
    "nuestro newsletter", "nuestras comunicaciones", "la nostra newsletter",
    "nostra newsletter", "nostre comunicazioni", "nossa newsletter", "nosso boletim",
    "nossas comunicacoes", "onze nieuwsbrief", "onze nieuwsbrieven", "naszego newslettera",
    "vart nyhetsbrev", "if you no longer wish", "if you do not wish", "if you don t wish",
    "if you do not want", "if you don t want", "if you dont want", "if you no longer want",
    "if you wish to", "should you wish", "if you would like to unsubscribe",
    "if you prefer not", "if you would prefer not", "to stop receiving", "reply with",
    "wenn sie keine", "falls sie keine", "si vous ne souhaitez plus", "si vous ne desirez plus",
    "si vous souhaitez vous", "si no desea", "si ya no desea", "si desea darse",
    "se non desideri", "se non desidera", "se nao deseja", "caso nao deseje",
    "se voce nao deseja", "als u geen", "indien u geen", "wilt u geen", NULL};
/* clang-format on */

/* The writer speaking of themself: "please unsubscribe me: <link>" is a request. */
/* clang-format off */
static const char *const first_person[] = {
    "me", "my", "im", "mine", "myself", "mich", "mir", "mein", "meine", "meinen", "meiner",
    "ich", "moi", "je", "j", "mon", "mes", "mi", "mis", "yo", "mio", "mia", "miei", "io",
    "meu", "minha", "meus", "eu", "mij", "mijn", "ik", "mnie", "moj", "moje", "mojego",
    "mig", "mej", "mitt", "jag", NULL};
/* clang-format on */

/* Polite words that make a request of what follows ("please", "bitte", "merci de"). */
/* clang-format off */
static const char *const polite_words[] = {
    "please", "pls", "plz", "kindly", "bitte", "merci de", "veuillez", "por favor",
    "per favore", "per piacere", "favor", "alstublieft", "aub", "prosze", "snalla",
    "vanligen", NULL};
/* clang-format on */

/* Small words a polite request may hold before its verb ("please just remove"). */
/* clang-format off */
static const char *const polite_fillers[] = {
    "me", "us", "mich", "uns", "sie", "moi", "nous", "ne", "plus", "nos", "mi", "ci", "just",
    "do", "immediately", "now", "also", "simply", "ons", "mij", "jetzt", "sofort", NULL};
/* clang-format on */

/* The verbs of a request to stop the e-mails, after a polite word. */
/* clang-format off */
static const char *const request_verbs[] = {
    "unsubscribe", "remove", "take", "delete", "opt", "stop", "cancel", "erase", "unsub",
    "austragen", "tragen", "abmelden", "melden", "entfernen", "loschen", "streichen",
    "nehmen", "desabonner", "desabonnez", "desinscrire", "desinscrivez", "retirer",
    "retirez", "supprimer", "supprimez", "borren", "quiten", "eliminen", "den", "denme",
    "denos", "dar", "darme", "darnos", "sacar", "cancellate", "cancellarmi", "cancellarci",
    "rimuovete", "rimuovermi", "rimuoverci", "togliete", "disiscrivete", "disiscrivermi",
    "remova", "remover", "removam", "retire", "retirem", "descadastre", "descadastrem",
    "tirem", "verwijder", "haal", "schrijf", "meld", "wypisz", "wypiszcie", "usun",
    "usuncie", "ta", "avregistrera", "sluta", NULL};
/* clang-format on */

/* "Stop sending" and "don't send me", in the forms stop_sending reads. */
/* clang-format off */
static const char *const stop_verbs[] = {
    "stop sending", "quit sending", "cease sending", "stop sending me", "stop sending us",
    "do not send me", "don t send me", "dont send me", "never send me", "do not send us",
    "don t send us", "dont send us", "not send me",
    /* "I don't want to receive any more emails", not "... a call, just email me" */
    "do not want to receive", "don t want to receive", "dont want to receive",
    "do not wish to receive", "don t wish to receive", "dont wish to receive",
    "no longer want to receive", "no longer wish to receive", NULL};
/* clang-format on */

/* What may follow stop_verbs when the request is complete ("them", "anymore", "please", a new
 * sentence). */
/* clang-format off */
static const char *const stop_complete[] = {
    "them", "these", "this", "those", "it", "that", "anything", "again", "anymore",
    "any", "more", "further", "stuff", "spam", "junk", "please", "pls", "thanks", "thank",
    "now", "immediately", "asap", "already", "i", "we", "ok", "okay", "or", "and",
    "thx", "cheers", "regards", "not", "no", "bye", "leave", "seriously", "right", "you",
    "ever", NULL};
/* clang-format on */

/* The mail itself after stop_verbs, possibly after a stop_determiner ("the", "your", "such"). */
/* clang-format off */
static const char *const stop_mail[] = {
    "email", "emails", "e", "mail", "mails", "mailings", "message", "messages",
    "newsletter", "newsletters", "marketing", "promotions", "promotional", "offers",
    "follow", "followups", "sequences", "sequence", "reminders", "cold", "sales", "ads",
    "adverts", "advertising", "updates", "notes", "info", "me", "us", NULL};
/* clang-format on */

/* Determiners before stop_mail. */
/* clang-format off */
static const char *const stop_determiners[] = {"the", "your", "such", "all", "so", NULL};
/* clang-format on */

/* Words joining a thread-leaving phrase to more of the request ("... and from your list"). */
/* clang-format off */
static const char *const request_joins[] = {"and", "und", "et", "as well as", "plus", NULL};
/* clang-format on */

/* What follows request_joins when the request goes on. */
/* clang-format off */
static const char *const request_next[] = {
    "from", "off", "your", "unsubscribe", "remove", "take", "delete", "opt", "all", "any",
    "stop", "aus", "von", "ihrem", "ihrer", "de", "votre", "vos", "desabonnez",
    "desinscrivez", "the list", "the mailing", "the distribution", "the newsletter",
    "out of", NULL};
/* clang-format on */

/* Phrases only an automatic out-of-office notice writes. */
/* clang-format off */
static const char *const out_of_office_phrases[] = {
    "out of office", "out of the office", "automatic reply", "auto reply", "autoreply",
    "auto response", "automatic response", "autoresponder", "away from the office",
    "away from my desk until", "limited access to email", "limited access to my email",
    "limited access to e mail", "no access to email", "without access to email",
    "currently out of", "currently away", "i am away until", "i m away until",
    "am on annual leave", "m on annual leave", "am on parental leave", "m on parental leave",
    "am on maternity leave", "m on maternity leave", "am on paternity leave",
    "m on paternity leave", "am on sick leave", "m on sick leave", "currently on leave",
    "currently on parental leave", "currently on maternity leave", "back in the office", "return to the office", "returning to the office",
    "automatische antwort", "abwesenheitsnotiz", "nicht im buro", "ausser haus",
    "nicht erreichbar", "im urlaub", "wieder im buro", "wieder erreichbar",
    "in elternzeit", "absent du bureau", "absente du bureau", "reponse automatique",
    "message automatique", "en conges", "en conge", "de retour le", "de retour au bureau",
    "fuera de la oficina", "respuesta automatica", "de vacaciones", "regresare el",
    "estare de vuelta", "fuori ufficio", "fuori sede", "risposta automatica", "in ferie",
    "rientrero", "fora do escritorio", "resposta automatica", "de ferias",
    "estarei de volta", "retorno em", "retornarei", "afwezig", "automatisch antwoord",
    "met vakantie", "weer aanwezig", "weer op kantoor", "out sick", "on leave until",
    "on vacation until", "on holiday until", "office until", "am out until",
    "m out until",
    /* pl, sv */
    "poza biurem", "jestem na urlopie", "przebywam na urlopie", "jestem nieobecny",
    "jestem nieobecna", "odpowiedz automatyczna", "ograniczonym dostepem do poczty",
    "automatiskt svar", "ar pa semester", "pa semester till", "ar ledig till",
    "ar tjanstledig", "ar foraldraledig", "ar franvarande", "begransad tillgang till e post",
    "tillbaka pa kontoret", NULL};
/* clang-format on */

/* Words of data protection and security (a hint for the model). */
/* clang-format off */
static const char *const security_words[] = {
    "gdpr", "dsgvo", "rgpd", "lgpd", "avg", "soc 2", "soc2", "soc", "iso 27001", "27001",
    "dpa", "data processing", "auftragsverarbeitung", "avv", "hipaa", "data residency",
    "data stored", "data hosted", "our data", "your data", "datenschutz", "daten",
    "donnees", "datos", "dati", "dados", "gegevens", "security", "sicherheit", "securite",
    "seguridad", "sicurezza", "seguranca", "beveiliging", "encryption", "encrypted",
    "verschlusselung", "chiffrement", "cifrado", "crittografia", "criptografia",
    "pen test", "pentest", "penetration", "sso", "saml", "privacy", "confidentialite",
    "privacidad", "hosted", "hosting", "servers", "server", "subprocessors",
    "sub processors", "data center", "datacenter", "rechenzentrum", "security review",
    "questionnaire", "fragebogen", "questionnaire de securite", "cuestionario",
    "compliance", "conformite", "conformidad", "conformita", "retention", NULL};
/* clang-format on */

/* Words of an integration (a hint for the model). */
/* clang-format off */
static const char *const integration_words[] = {
    "crm", "salesforce", "hubspot", "pipedrive", "zoho", "dynamics", "api", "apis",
    "zapier", "webhook", "webhooks", "integration", "integrations", "integrate",
    "integrates", "integrated", "integrieren", "integriert", "schnittstelle",
    "schnittstellen", "anbindung", "anbinden", "connecteur", "integrer", "integre",
    "integracion", "integrar", "integra", "integrazione", "integrare", "integracao",
    "koppeling", "koppelen", "integratie", "gmail", "outlook", "slack", "sync", "syncs",
    "synchronise", "synchronize", "synchroniser", "sincronizar", "sincronizza", "sdk",
    "connector", "connect", "plugin", "plug in", "make com", "n8n", "rest", NULL};
/* clang-format on */

/* Sending verbs whose object may be something other than our mail ("stop sending me invoices
 * to this address", "no me envíen más facturas a esta dirección"): read by redirects(). */
/* clang-format off */
static const char *const sending_requests[] = {
    "stop sending me", "stop sending us", "stop sending", "quit sending", "cease sending",
    "do not send me", "don t send me", "dont send me", "never send me", "not send me",
    "stop sending your", "stop sending these", "stop sending any",
    "schicken sie mir keine", "senden sie mir keine", "schickt mir keine",
    "ne plus m envoyer", "ne m envoyez plus", "arretez de m envoyer", "cessez de m envoyer",
    "cesser de m envoyer", "no me envien mas", "no me manden mas", "dejen de enviarme",
    "paren de enviarme", "paren de mandarme", "non inviatemi", "non mandatemi",
    "non inviatemi piu", "smettete di inviarmi", "nao me enviem", "nao me mandem",
    "parem de enviar", "parem de me enviar", "parem de mandar", "parem de me mandar",
    "stuur me geen", "stuur mij geen", "sluta skicka", NULL};
/* clang-format on */

/* Documents a customer or colleague is sent, which are not our sales mail. */
/* clang-format off */
static const char *const document_nouns[] = {
    "invoice", "invoices", "bill", "bills", "receipts", "statements", "report", "reports",
    "deck", "slides", "contract", "contracts", "quotes", "orders", "payslips", "timesheets",
    "rechnung", "rechnungen", "belege", "berichte", "bericht", "unterlagen", "vertrage",
    "mahnungen", "gutschriften", "lieferscheine", "facture", "factures", "rapport",
    "rapports", "devis", "releves", "bons", "factura", "facturas", "informes", "informe",
    "presupuestos", "recibos", "albaranes", "fattura", "fatture", "rapporti", "preventivi",
    "ricevute", "fatura", "faturas", "relatorios", "relatorio", "orcamentos", "boletos",
    "factuur", "facturen", "rapporten", "offertes", "fakturor", "rapporter", NULL};
/* clang-format on */

/* Words between a sending verb and a document ("me the weekly", "mas", "les"). */
/* clang-format off */
static const char *const document_fillers[] = {
    "me", "us", "the", "any", "more", "your", "these", "those", "weekly", "monthly", "daily",
    "mir", "uns", "die", "mehr", "weitere", "weiteren", "les", "des", "de", "vos", "mas",
    "las", "los", "sus", "le", "piu", "i", "ci", "as", "os", "mais", "meer",
    "fler", NULL};
/* clang-format on */

/* Where the documents should go instead: the request is a redirect, not an opt-out. */
/* clang-format off */
static const char *const redirect_cues[] = {
    "to this address", "to this email", "to this e mail", "to this mailbox", "to my private",
    "to my personal", "to my colleague", "instead", "please use", "send them to",
    "an diese adresse", "an diese e mail adresse", "an diese mailadresse", "stattdessen",
    "sondern an", "a cette adresse", "utilisez plutot", "plutot a", "a esta direccion",
    "a este correo", "en su lugar", "en lugar de", "a questo indirizzo", "invece",
    "para este endereco", "neste endereco", "em vez", "naar dit adres", "in plaats van",
    "till denna adress", NULL};
/* clang-format on */

/* A sending verb after these reports the past ("you did not send me anything"). */
static const char *const past_auxiliaries[] = {"did", "have", "has", "had", NULL};

/* A removal asked for the person we wrote to, by a colleague: third-person requests. */
/* clang-format off */
static const char *const recipient_removals[] = {
    "remove her", "remove him", "take her off", "take him off", "delete her", "delete him",
    "unsubscribe her", "unsubscribe him", "her from your", "him from your", "her off your",
    "him off your", "tragen sie sie aus", "tragen sie sie bitte aus", "entfernen sie sie",
    "nehmen sie sie", "loschen sie sie", "streichen sie sie", "retirez la", "retirez le",
    "la retirer", "le retirer", "la desinscrire", "le desinscrire", "supprimez la",
    "supprimez le", "la supprimer", "le supprimer", "denla de baja", "denlo de baja",
    "darla de baja", "darlo de baja", "eliminenla", "eliminenlo", "quitenla", "quitenlo",
    "rimuovetela", "rimuovetelo", "cancellatela", "cancellatelo", "toglietela", "toglietelo",
    "removam na", "removam no", "remova a", "remova o", "verwijder haar", "verwijder hem",
    "haal haar", "haal hem", "schrijf haar uit", "schrijf hem uit", NULL};
/* clang-format on */

/* The person we wrote to has gone: with a request to remove, the request is theirs. */
/* clang-format off */
static const char *const recipient_gone[] = {
    "has left the company", "has left the business", "has left the organisation",
    "has left the organization", "left the company", "is no longer with", "no longer works",
    "is no longer at", "no longer with the company", "no longer with us", "has retired",
    "passed away", "hat das unternehmen verlassen", "hat die firma verlassen",
    "hat uns verlassen", "ist nicht mehr bei uns", "ist nicht mehr im unternehmen",
    "arbeitet nicht mehr", "ist ausgeschieden", "nicht mehr fur uns tatig",
    "a quitte l entreprise", "a quitte la societe",
    "ne fait plus partie", "ne travaille plus", "n est plus chez", "n est plus dans",
    "ya no trabaja", "dejo la empresa", "ha dejado la empresa", "ya no forma parte",
    "non lavora piu", "ha lasciato l azienda", "non fa piu parte", "nao trabalha mais",
    "saiu da empresa", "deixou a empresa", "nao faz mais parte", "werkt hier niet meer",
    "werkt niet meer", "is niet meer in dienst", "heeft het bedrijf verlaten", "is uit dienst",
    NULL};
/* clang-format on */

/* Words between a removal verb and the name it removes ("tragen Sie Frau Schmidt aus"). */
/* clang-format off */
static const char *const name_fillers[] = {
    "sie", "ms", "mrs", "mr", "dr", "frau", "herr", "mme", "madame", "monsieur", "m", "a",
    "la", "le", "sra", "sr", "senora", "senor", "sig", "signora", "mevrouw", "meneer", "dhr",
    "mevr", "also", "too", "just", NULL};
/* clang-format on */

/* An address's local part that names a role, not a person ("info@", "sales@"). */
/* clang-format off */
static const char *const role_words[] = {
    "info", "sales", "contact", "office", "team", "hello", "admin", "mail", "support",
    "kontakt", "vertrieb", "einkauf", "buero", "buro", "bureau", "ventas", "vendite",
    "vendas", "verkoop", "marketing", "service", "accounts", "billing", NULL};
/* clang-format on */

/* A person's reply proposing or accepting something ("let's talk then", "lass uns dann
 * sprechen"): beside an out-of-office phrase, a human who is back, not a notice. */
/* clang-format off */
static const char *const engagement_phrases[] = {
    "let s talk", "lets talk", "let s meet", "lets meet", "let s catch up", "lets catch up",
    "let s chat", "lets chat", "let s speak", "let s connect", "let s schedule", "let s book",
    "let s set up", "let s find a time", "talk then", "speak then", "chat then", "meet then",
    "catch up then", "happy to talk", "happy to meet", "happy to chat", "happy to join",
    "would love to", "i d love to", "sounds good", "sounds great", "works for me",
    "that works", "give me a call", "book a call", "book a time", "send me an invite",
    "send an invite", "send me a calendar invite", "i m interested", "i am interested",
    "we re interested", "we are interested", "yes please", "count me in",
    "lass uns", "lassen sie uns", "sprechen wir", "telefonieren wir", "klingt gut",
    "passt mir", "termin vereinbaren", "ich bin interessiert", "wir sind interessiert",
    "gerne dann", "gerne danach", "parlons", "on en parle", "on se parle",
    "on s appelle", "volontiers", "avec plaisir", "ca me va", "cela me convient",
    "je suis interesse", "je suis interessee", "prenons rendez vous", "hablamos",
    "hablemos", "con gusto", "me parece bien", "me interesa", "agendemos",
    "sentiamoci", "parliamone", "ci sentiamo", "volentieri", "va bene per me", "mi interessa",
    "fissiamo", "falamos", "vamos conversar", "conversamos", "com prazer", "tenho interesse",
    "vamos marcar", "laten we", "spreken we", "bellen we", "lijkt me goed", "ik heb interesse",
    "plannen we", NULL};
/* clang-format on */

/* What only an automatic notice writes: with these, an engagement phrase ("for urgent
 * matters please call me") does not make it a person's reply. */
/* clang-format off */
static const char *const auto_notice_markers[] = {
    "automatic reply", "auto reply", "autoreply", "auto response", "automatic response",
    "autoresponder", "automated", "limited access to email", "limited access to my email",
    "limited access to e mail", "no access to email", "without access to email",
    "urgent", "upon my return", "when i return", "when i am back",
    "automatische antwort", "abwesenheitsnotiz", "dringend", "dringenden", "dringende",
    "reponse automatique", "message automatique", "urgence", "urgences", "des mon retour",
    "a mon retour", "respuesta automatica", "urgente", "urgentes", "a mi regreso",
    "a mi vuelta", "risposta automatica", "al mio rientro", "resposta automatica",
    "automatisch antwoord", "dringende zaken", "odpowiedz automatyczna",
    "ograniczonym dostepem do poczty", "automatiskt svar", "begransad tillgang till e post",
    NULL};
/* clang-format on */

/* Every table above, by its name in reply_lexicon.h's SA_REPLY_LEXICONS. */
static const struct {
    const char *name;
    const char *const *entries;
} lexicons[SA_LEX_COUNT] = {
#define LEXICON_ROW(id, table) [SA_LEX_##id] = {#table, table},
    SA_REPLY_LEXICONS(LEXICON_ROW)
#undef LEXICON_ROW
};

const char *sa_reply_lexicon_name(enum sa_reply_lexicon id)
{
    return id < SA_LEX_COUNT ? lexicons[id].name : "";
}

const char *const *sa_reply_lexicon_entries(enum sa_reply_lexicon id)
{
    static const char *const none[] = {NULL};
    return id < SA_LEX_COUNT ? lexicons[id].entries : none;
}

const char *sa_reply_lexicon_find(const char *norm, enum sa_reply_lexicon id)
{
    const char *const *entries = sa_reply_lexicon_entries(id);
    for (size_t i = 0; entries[i]; i++)
        if (has_phrase(norm, entries[i]))
            return entries[i];
    return NULL;
}

/* ---- matchers ------------------------------------------------------------------------- */

/* A polite word right before a request's verb ("please remove", "bitte tragen Sie uns
 * aus", "merci de nous désinscrire", "por favor denos de baja"), at most two small words
 * between: the writer asks, so the sentence is theirs, link or not. "Please click here to
 * unsubscribe" is no such request (to click is the footer's instruction). */
static bool polite_request(const char *norm)
{
    for (size_t k = 0; polite_words[k]; k++) {
        size_t pl = strlen(polite_words[k]);
        for (const char *p = strstr(norm, polite_words[k]); p; p = strstr(p + 1, polite_words[k])) {
            if (p == norm || p[-1] != ' ' || p[pl] != ' ')
                continue;
            const char *w = p + pl + 1;
            for (int skipped = 0; *w; skipped++) {
                size_t wl = strcspn(w, " ");
                if (in_list(w, wl, request_verbs))
                    return true;
                if (skipped == 2 || !in_list(w, wl, polite_fillers))
                    break;
                w += wl + 1;
            }
        }
    }
    return false;
}

/* Whether the word before p (a phrase in norm) is a past auxiliary: "you did not send me
 * anything" says what happened, it asks nothing. */
static bool after_past(const char *norm, const char *p)
{
    const char *e = p - 1; /* the space before p */
    const char *b = e;
    while (b > norm && b[-1] != ' ')
        b--;
    return e > b && in_list(b, (size_t)(e - b), past_auxiliaries);
}

/* Whether the words at w name a document rather than our mail: at most two fillers ("me the
 * weekly"), then a document noun. */
static bool document_object(const char *w)
{
    for (int skipped = 0; *w; skipped++) {
        size_t wl = strcspn(w, " ");
        if (wl == 0)
            return false;
        if (in_list(w, wl, document_nouns))
            return true;
        if (skipped == 2 || !in_list(w, wl, document_fillers))
            return false;
        w += wl + 1;
    }
    return false;
}

/* Blanks out, in own (a copy of norm), each sending request whose object is a document when
 * the text says where the documents should go instead ("please stop sending me invoices to
 * this address, use billing@..."): that is a redirect, not an opt-out. Without such a cue
 * the request stands: a missed opt-out costs more than a false one. */
static void blank_redirects(const char *norm, char *own)
{
    if (!has_any(norm, redirect_cues))
        return;
    for (size_t k = 0; sending_requests[k]; k++) {
        size_t pl = strlen(sending_requests[k]);
        for (const char *p = strstr(norm, sending_requests[k]); p;
             p = strstr(p + 1, sending_requests[k]))
            if (p > norm && p[-1] == ' ' && p[pl] == ' ' && document_object(p + pl + 1))
                memset(own + (p - norm), ' ', pl);
    }
}

/* "Stop sending" and "don't send me" ask to stop when what follows is the mail itself, a
 * pronoun, or nothing ("Please stop sending.", "Stop sending them.", "Do not send me
 * these."), not when it is something else the writer wants elsewhere ("stop sending
 * invoices to this address", "don't send me the pricing yet"). */
static bool stop_sending(const char *norm)
{
    for (size_t k = 0; stop_verbs[k]; k++) {
        size_t pl = strlen(stop_verbs[k]);
        for (const char *p = strstr(norm, stop_verbs[k]); p; p = strstr(p + 1, stop_verbs[k])) {
            if (p == norm || p[-1] != ' ' || p[pl] != ' ' || after_past(norm, p))
                continue;
            const char *w = p + pl + 1;
            size_t wl = strcspn(w, " ");
            if (wl == 0 || in_list(w, wl, stop_complete) || in_list(w, wl, stop_mail))
                return true;
            if (in_list(w, wl, stop_determiners)) {
                w += wl + (w[wl] == ' ');
                wl = strcspn(w, " ");
                if (wl == 0 || in_list(w, wl, stop_mail))
                    return true;
            }
        }
    }
    return false;
}

/* Damerau-Levenshtein distance of two short strings, stopping beyond limit. */
static int edit_distance(const char *a, size_t la, const char *b, size_t lb, int limit)
{
    enum { MAXW = 32 };
    if (la >= MAXW || lb >= MAXW)
        return limit + 1;
    int d[MAXW + 1][MAXW + 1];
    for (size_t i = 0; i <= la; i++)
        d[i][0] = (int)i;
    for (size_t j = 0; j <= lb; j++)
        d[0][j] = (int)j;
    for (size_t i = 1; i <= la; i++) {
        int rowmin = limit + 1;
        for (size_t j = 1; j <= lb; j++) {
            int cost = a[i - 1] != b[j - 1];
            int v = d[i - 1][j] + 1;
            if (d[i][j - 1] + 1 < v)
                v = d[i][j - 1] + 1;
            if (d[i - 1][j - 1] + cost < v)
                v = d[i - 1][j - 1] + cost;
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
                d[i - 2][j - 2] + 1 < v)
                v = d[i - 2][j - 2] + 1;
            d[i][j] = v;
            if (v < rowmin)
                rowmin = v;
        }
        if (rowmin > limit)
            return limit + 1;
    }
    return d[la][lb];
}

static size_t word_count(const char *norm)
{
    size_t n = 0;
    for (const char *p = norm; *p; p++)
        n += p[0] == ' ' && p[1] && p[1] != ' ';
    return n;
}

bool sa_reply_mentions_unsubscribe_feature(const char *norm)
{
    return has_any(norm, product_context);
}

bool sa_reply_footer_sentence(const char *s, size_t len)
{
    enum { SMALL = 512 };
    if (len < 8)
        return false;
    char small[SMALL], small_norm[2 * SMALL + 3];
    char *raw = len < SMALL ? small : malloc(len + 1);
    char *norm = len < SMALL ? small_norm : malloc(2 * len + 3);
    bool hit = false;
    if (raw && norm) {
        memcpy(raw, s, len);
        raw[len] = '\0';
        sa_reply_normalise(raw, norm);
        hit = (has_any(norm, unsubscribe_topic) || has_any(norm, unsubscribe_phrases) ||
               has_any(norm, explicit_requests)) &&
              has_any(norm, footer_markers) && !has_any(norm, first_person) &&
              !has_any(norm, team_requests) && !polite_request(norm);
    }
    if (raw != small)
        free(raw);
    if (norm != small_norm)
        free(norm);
    return hit;
}

static bool is_unsubscribe(const char *norm);

/* Whether the text after a thread-leaving phrase goes on to ask for the list too
 * ("remove me from the CC and from your mailing list", "... and your list", "... and
 * unsubscribe me"): then the phrase is part of the request and is not blanked. */
static bool request_goes_on(const char *after)
{
    if (after[0] != ' ')
        return false;
    after++;
    for (size_t j = 0; request_joins[j]; j++) {
        size_t jl = strlen(request_joins[j]);
        if (strncmp(after, request_joins[j], jl) != 0 || after[jl] != ' ')
            continue;
        for (size_t k = 0; request_next[k]; k++) {
            size_t kl = strlen(request_next[k]);
            if (strncmp(after + jl + 1, request_next[k], kl) == 0 && after[jl + 1 + kl] == ' ')
                return true;
        }
    }
    return false;
}

bool sa_reply_is_unsubscribe(const char *norm)
{
    size_t n = strlen(norm);
    char *own = malloc(n + 1);
    if (!own)
        return is_unsubscribe(norm);
    memcpy(own, norm, n + 1);
    blank_redirects(norm, own);
    for (size_t i = 0; not_request_phrases[i]; i++) {
        size_t pl = strlen(not_request_phrases[i]);
        for (char *p = strstr(own, not_request_phrases[i]); p;
             p = strstr(p + 1, not_request_phrases[i]))
            if (p > own && p[-1] == ' ' && p[pl] == ' ' && !request_goes_on(p + pl))
                memset(p, ' ', pl);
    }
    bool hit = is_unsubscribe(own);
    free(own);
    return hit;
}

static bool is_unsubscribe(const char *norm)
{
    if (has_any(norm, explicit_requests) || has_any(norm, team_requests))
        return true;
    if (has_any(norm, delivery_problem))
        return false;
    if (has_any(norm, unsubscribe_phrases) || has_any(norm, team_requests) || stop_sending(norm))
        return true;
    if (has_any(norm, product_context))
        return false;
    size_t words = word_count(norm);
    for (const char *w = norm + 1; *w;) {
        size_t wl = strcspn(w, " ");
        if (wl >= 4 && !in_list(w, wl, words_not_typos)) {
            for (size_t i = 0; unsubscribe_words[i]; i++) {
                size_t kl = strlen(unsubscribe_words[i]);
                /* "stop", "remove", "baja" only as a whole short reply ("STOP", "BAJA") */
                int limit = kl >= 11 ? 2 : kl >= 8 ? 1 : 0;
                if (kl < 8 && words > 2)
                    continue;
                if ((size_t)abs((int)kl - (int)wl) <= (size_t)limit &&
                    edit_distance(w, wl, unsubscribe_words[i], kl, limit) <= limit)
                    return true;
            }
        }
        w += wl;
        while (*w == ' ')
            w++;
    }
    return false;
}

bool sa_reply_is_out_of_office(const char *norm)
{
    return has_any(norm, out_of_office_phrases) && !has_phrase(norm, "back on track");
}

bool sa_reply_mentions_security(const char *norm)
{
    return has_any(norm, security_words);
}

bool sa_reply_mentions_integration(const char *norm)
{
    return has_any(norm, integration_words);
}

/* Whether a word of norm right after a removal verb (at most two name_fillers between) is
 * one of the recipient's names ("take anna off", "tragen Sie Frau Schmidt aus"). names is
 * normalised (" anna schmidt "). */
static bool removes_name(const char *norm, const char *names)
{
    for (const char *w = norm + 1; *w;) {
        size_t wl = strcspn(w, " ");
        if (wl && in_list(w, wl, request_verbs)) {
            const char *n = w + wl;
            for (int skipped = 0; *n == ' ' && n[1]; skipped++) {
                n++;
                size_t nl = strcspn(n, " ");
                char word[64];
                if (nl >= 3 && nl < sizeof word) {
                    memcpy(word, n, nl);
                    word[nl] = '\0';
                    if (has_phrase(names, word))
                        return true;
                }
                if (skipped == 2 || !in_list(n, nl, name_fillers))
                    break;
                n += nl;
            }
        }
        w += wl;
        while (*w == ' ')
            w++;
    }
    return false;
}

/* The recipient's names, normalised, into out (cap bytes): the words of name and of the
 * address's local part, but not a role's ("info", "sales") or a word under three letters. */
static void recipient_names(const char *email, const char *name, char *out, size_t cap)
{
    char raw[400], norm[2 * sizeof raw + 3];
    size_t local = email ? strcspn(email, "@") : 0;
    snprintf(raw, sizeof raw, "%.*s %.200s", (int)(local < 180 ? local : 180), email ? email : "",
             name ? name : "");
    sa_reply_normalise(raw, norm);
    size_t n = 0;
    out[n++] = ' ';
    for (const char *w = norm + 1; *w;) {
        size_t wl = strcspn(w, " ");
        if (wl >= 3 && !in_list(w, wl, role_words) && n + wl + 2 < cap) {
            memcpy(out + n, w, wl);
            n += wl;
            out[n++] = ' ';
        }
        w += wl;
        while (*w == ' ')
            w++;
    }
    out[n] = '\0';
}

enum sa_reply_removal sa_reply_removal_of(const char *norm, const char *recipient_email,
                                          const char *recipient_name, const char **cue)
{
    char names[512];
    recipient_names(recipient_email, recipient_name, names, sizeof names);
    const char *third = sa_reply_lexicon_find(norm, SA_LEX_RECIPIENT_REMOVAL);
    if (!third && names[1] && removes_name(norm, names))
        third = "names the person written to";
    if (third) {
        *cue = third;
        return SA_REMOVAL_RECIPIENT;
    }
    bool asks = sa_reply_is_unsubscribe(norm);
    const char *gone = sa_reply_lexicon_find(norm, SA_LEX_RECIPIENT_GONE);
    if (gone && (asks || polite_request(norm))) {
        *cue = gone;
        return SA_REMOVAL_RECIPIENT;
    }
    *cue = asks ? "asks to be removed" : NULL;
    return asks ? SA_REMOVAL_SENDER : SA_REMOVAL_NONE;
}

bool sa_reply_engages(const char *norm)
{
    return has_any(norm, engagement_phrases) && !has_any(norm, auto_notice_markers);
}
