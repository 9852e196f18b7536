"""responses.py words the guard's fixed answers: the emergency response (number to call, what to
do meanwhile, a crisis line for self-harm), the urgent note (see a clinician today, by locale) and the
brief refusal with a safe alternative, in English or Spanish. It only reads a Verdict's rules; it knows nothing of how the verdict was reached.
"""

from __future__ import annotations

from medgemma.types import Verdict

_MEANWHILE = {
    "chest_pain": "Stop any activity and sit or lie down. Unlock the door and keep your phone with you.",
    "breathing": "If the person is not breathing, start CPR if you can; the dispatcher will guide you. "
    "If they are choking and cannot cough or speak, give back blows and abdominal thrusts.",
    "stroke": "Note the time the symptoms started. Do not give food, drink or medicine. Stay with the person.",
    "unconscious": "Check breathing. If there is no normal breathing, start CPR; the dispatcher will guide you. "
    "If they breathe, turn them on their side (recovery position).",
    "seizure": "Move hard objects away, cushion the head, time the seizure, and put nothing in the mouth. "
    "Turn the person on their side when the jerking stops.",
    "overdose": "Keep the container or pills to show the responders. Do not make the person vomit. If opioids "
    "are involved and naloxone is available, use it. Poison control (US): 1-800-222-1222.",
    "bleeding": "Press firmly on the wound with a clean cloth and keep pressing; do not lift it to check.",
    "anaphylaxis": "If an epinephrine auto-injector is available, use it now. Lie down with legs raised "
    "unless breathing is easier sitting up.",
}
_MEANWHILE_ES = {
    "chest_pain": "Deje toda actividad y siéntese o acuéstese. Abra la puerta y tenga el teléfono a mano.",
    "breathing": "Si la persona no respira, inicie RCP si sabe; la operadora le guiará.",
    "stroke": "Anote la hora en que empezaron los síntomas. No le dé comida, bebida ni medicinas.",
    "unconscious": "Compruebe si respira. Si no respira con normalidad, inicie RCP. Si respira, póngala de lado.",
    "seizure": "Aparte objetos duros, proteja la cabeza y no ponga nada en la boca.",
    "overdose": "Guarde el envase o las pastillas para mostrarlo. No provoque el vómito.",
    "bleeding": "Presione la herida con fuerza con un paño limpio y no deje de presionar.",
    "anaphylaxis": "Si hay un autoinyector de epinefrina, úselo ahora.",
}


# A red flag's area (catalogue.py) borrows the matching "while you wait" tip.
_AREA_KIND = {
    "cardiac": "chest_pain",
    "stroke_neuro": "stroke",
    "breathing": "breathing",
    "allergy": "anaphylaxis",
    "poisoning_overdose": "overdose",
    "bleeding": "bleeding",
    "mental_health": "self_harm",
}


def _kinds(verdict: Verdict) -> list[str]:
    kinds = []
    for rule in verdict.rules:
        if rule.startswith("emergency."):
            kinds.append(rule.split(".", 1)[1])
        elif rule.startswith("redflag."):
            area = rule.split(".")[1]
            kinds.append(_AREA_KIND.get(area, area))
    return kinds


def emergency_text(verdict: Verdict, number: str, crisis: str) -> str:
    """The fixed emergency answer, shown before any retrieval or generation."""
    spanish = "lang.es" in verdict.rules
    kinds = _kinds(verdict)
    # The learned layer cannot tell self-harm from other emergencies: show the crisis line with it too.
    self_harm = any(k.startswith("self_harm") for k in kinds) or "learned.emergency" in verdict.rules
    steps = _MEANWHILE_ES if spanish else _MEANWHILE
    tips = [steps[k] for k in dict.fromkeys(kinds) if k in steps]
    if spanish:
        lines = [
            f"**Esto puede ser una emergencia. Llame ahora al {number}** (servicios de emergencia) o vaya "
            "al servicio de urgencias más cercano. No espere a ver si mejora."
        ]
        if self_harm:
            lines.append(
                "Si piensa en hacerse daño, no está solo/a: "
                + (f"llame o escriba al **{crisis}** (línea de crisis), " if crisis else "")
                + f"o al {number}. Quédese con alguien de confianza y aleje lo que pueda hacerle daño."
            )
        lines += [f"Mientras tanto: {t}" for t in tips] or [
            "Mientras tanto: quédese con la persona y siga las indicaciones de la operadora."
        ]
        lines.append("Este asistente no puede evaluar una emergencia; los servicios de emergencia sí.")
        return "\n\n".join(lines)
    lines = [
        f"**This may be an emergency. Call {number} now** (emergency services) or go to the nearest "
        "emergency department. Do not wait to see if it gets better."
    ]
    if self_harm:
        lines.append(
            "If you are thinking about hurting yourself, you are not alone: "
            + (f"call or text **{crisis}** (suicide and crisis line), " if crisis else "")
            + f"or call {number}. Stay with someone you trust and move away from anything you "
            "could use to hurt yourself."
        )
    lines += [f"While you wait: {t}" for t in tips] or [
        "While you wait: stay with the person, keep your phone on, and follow the dispatcher's instructions."
    ]
    lines.append("This assistant cannot assess an emergency; emergency services can.")
    return "\n\n".join(lines)


# Where to get same-day care, by locale (settings.locale); the default names the kinds of service.
URGENT_CARE = {
    "GB": "ask your GP surgery for an urgent appointment today, or get help from NHS 111 (111.nhs.uk or "
    "call 111)",
    "UK": "ask your GP surgery for an urgent appointment today, or get help from NHS 111 (111.nhs.uk or "
    "call 111)",
    "IE": "contact your GP today, or your out-of-hours GP service",
    "US": "call your doctor's office for a same-day appointment, go to an urgent care clinic, or call a "
    "24-hour nurse line (often on the back of your insurance card)",
    "CA": "call your doctor for a same-day appointment, go to a walk-in or urgent care clinic, or call 811 "
    "(health advice line)",
    "AU": "see a GP today, or call healthdirect on 1800 022 222",
    "NZ": "see a GP today, or call Healthline on 0800 611 116",
    "ES": "pida cita hoy con su médico de cabecera o acuda a su centro de salud o a un punto de atención "
    "continuada",
    "MX": "pida una consulta hoy con su médico o acuda a una clínica de atención inmediata",
}
DEFAULT_URGENT_CARE = (
    "see a doctor today: a same-day appointment with your own doctor, an urgent care clinic, or an "
    "out-of-hours service"
)
_URGENT_CARE_ES = "vea hoy a un médico: una cita el mismo día, una clínica de atención inmediata o urgencias"


def urgent_text(verdict: Verdict, number: str, locale: str = "") -> str:
    """The urgent note: a clinician today (not an ambulance), then the signs that make it an emergency.
    The chat still answers with general, cited information after it."""
    why = "; ".join(verdict.reasons)
    if "lang.es" in verdict.rules:
        care = URGENT_CARE.get(locale.upper(), "") if locale.upper() in {"ES", "MX"} else ""
        return (
            f"**Esto necesita que lo vea un médico hoy, no una ambulancia:** {care or _URGENT_CARE_ES}."
            + (f" Motivo: {why}." if why else "")
            + f"\n\nSi empeora (le cuesta respirar, dolor en el pecho, desmayo, confusión, sangrado "
            f"abundante), llame al {number} ahora. Abajo hay información general, que no sustituye la consulta."
        )
    care = URGENT_CARE.get(locale.upper(), DEFAULT_URGENT_CARE)
    care = care if care != URGENT_CARE.get("ES") and care != URGENT_CARE.get("MX") else DEFAULT_URGENT_CARE
    return (
        f"**This needs a doctor today, not an ambulance:** {care}."
        + (f" Why: {why}." if why else "")
        + f"\n\nIf it gets worse (trouble breathing, chest pain, fainting, confusion, heavy bleeding), call "
        f"{number} now. Below is general information from medical sources; it does not replace being seen today."
    )


_ALTERNATIVES = {
    "violence": "If you are afraid you might hurt someone, or someone is in danger, call {number} or talk to a "
    "mental health professional.",
    "attack": "If someone is in danger, call {number}.",
    "weapons": "I can explain how poisonings or injuries are treated, or the history and public-health side.",
    "drugs": "I can explain how a medicine works, its risks, or where to find help for substance use.",
    "fraud": "I can explain how the legitimate process (sick notes, prescriptions, claims) works.",
    "unethical_practice": "I can explain the ethical and legal standards: informed consent, disclosure and "
    "patient safety.",
    "privacy": "Health records are private; a patient can ask their own provider for their records.",
    "misinformation": "I can summarise what the medical evidence actually says.",
    "discrimination": "I can share information on fair and equal access to care.",
    "harassment": "I can suggest respectful ways to talk about weight, health or disability.",
    "injection": "My safety rules cannot be switched off, but I'm glad to answer medical questions.",
}


def refusal_text(verdict: Verdict, number: str) -> str:
    """A brief refusal with one safe alternative."""
    spanish = "lang.es" in verdict.rules
    kinds = [r.split(".", 1)[-1] for r in verdict.rules if r.startswith("harmful.") or r == "injection"]
    alt = next(
        (_ALTERNATIVES[k] for k in kinds if k in _ALTERNATIVES),
        "I'm glad to help with general medical information instead.",
    ).format(number=number)
    if spanish:
        return (
            "No puedo ayudar con esa solicitud. Con gusto respondo preguntas médicas generales o explico "
            f"los riesgos y la ayuda disponible. Si alguien está en peligro, llame al {number}."
        )
    return f"I can't help with that request. {alt}"
