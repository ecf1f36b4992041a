"""The organisation of Sjöbacka kommun: its förvaltningar and the kinds of enheter in each.

Each kind of enhet names its staff's titles and the non-personal numbers it may have; the
generator draws the enheter from these (telefoni/demo/units.py).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class NumberTemplate:
    """A non-personal number a kind of unit may have; `{unit}` is the unit's name."""

    designation: str
    purpose: str  # "reception", "on_call" or "group" (group numbers have phone hours)
    keywords: str


@dataclass(frozen=True)
class UnitTemplate:
    """A kind of enhet: its name pattern, staff and the numbers it may have."""

    pattern: str  # "{}" is filled from names.fills(…)[fill], "{town}" with the town's name
    fill: str | None
    weight: float  # how often this kind occurs within its förvaltning
    size: float  # relative number of staff
    titles: tuple[tuple[str, float], ...]
    keywords: str
    chef_title: str = "Enhetschef"
    rugged: float = 0.0  # share of staff who need a water-, dirt- and shock-proof phone
    numbers: tuple[NumberTemplate, ...] = ()


@dataclass(frozen=True)
class Forvaltning:
    """A förvaltning; its first templates are used once each before the rest are drawn."""

    name: str
    share: float  # share of the municipality's enheter
    keywords: str
    templates: tuple[UnitTemplate, ...]
    chef_title: str = "Förvaltningschef"


OFFICE_STAFF: tuple[tuple[str, float], ...] = (
    ("Administratör", 0.35),
    ("Utvecklingsledare", 0.2),
    ("Controller", 0.15),
    ("Verksamhetsutvecklare", 0.15),
    ("Nämndsekreterare", 0.15),
)


def _n(designation: str, purpose: str, keywords: str) -> NumberTemplate:
    return NumberTemplate(designation, purpose, keywords)


FORVALTNINGAR: tuple[Forvaltning, ...] = (
    Forvaltning(
        "Kommunledningsförvaltningen",
        0.07,
        "kommunledning, kommunstyrelsen",
        (
            UnitTemplate(
                "Kontaktcenter",
                None,
                1,
                1.5,
                (("Kommunvägledare", 0.9), ("Samordnare", 0.1)),
                "kontaktcenter, växel, kundtjänst",
                numbers=(_n("{unit} – växel", "group", "kontaktcenter, växel"),),
            ),
            UnitTemplate(
                "IT-enheten",
                None,
                1,
                1.0,
                (("IT-tekniker", 0.5), ("Systemförvaltare", 0.3), ("IT-samordnare", 0.2)),
                "IT, support, telefoni",
                numbers=(_n("IT-support", "group", "IT, support"),),
            ),
            UnitTemplate(
                "Ekonomienheten",
                None,
                1,
                1.0,
                (("Ekonom", 0.6), ("Controller", 0.3), ("Redovisningsekonom", 0.1)),
                "ekonomi, budget, fakturor",
            ),
            UnitTemplate(
                "HR-enheten",
                None,
                1,
                1.0,
                (("HR-specialist", 0.7), ("HR-partner", 0.3)),
                "personal, rekrytering, arbetsmiljö",
            ),
            UnitTemplate(
                "Löneenheten",
                None,
                1,
                0.8,
                (("Lönespecialist", 0.8), ("Lönehandläggare", 0.2)),
                "lön, ersättningar",
                numbers=(_n("Lönesupport", "group", "lön"),),
            ),
            UnitTemplate(
                "Kommunikationsenheten",
                None,
                1,
                0.6,
                (("Kommunikatör", 0.8), ("Webbredaktör", 0.2)),
                "kommunikation, press, webb",
            ),
            UnitTemplate(
                "Kansliet",
                None,
                1,
                0.8,
                (("Nämndsekreterare", 0.4), ("Registrator", 0.3), ("Kommunjurist", 0.3)),
                "diarium, allmänna handlingar, nämnder",
            ),
            UnitTemplate(
                "Upphandlingsenheten",
                None,
                1,
                0.5,
                (("Upphandlare", 0.9), ("Inköpare", 0.1)),
                "upphandling, inköp",
            ),
            UnitTemplate(
                "Medborgarkontor {}",
                "place",
                2,
                0.6,
                (("Kommunvägledare", 1.0),),
                "medborgarkontor, service",
                numbers=(_n("{unit}", "group", "medborgarkontor"),),
            ),
        ),
        chef_title="Kommundirektör",
    ),
    Forvaltning(
        "Socialförvaltningen",
        0.35,
        "socialtjänst, omsorg",
        (
            UnitTemplate(
                "Hemtjänst {}",
                "area",
                5,
                1.3,
                (
                    ("Undersköterska", 0.55),
                    ("Vårdbiträde", 0.25),
                    ("Planerare", 0.07),
                    ("Sjuksköterska", 0.05),
                    ("Arbetsterapeut", 0.04),
                    ("Fysioterapeut", 0.04),
                ),
                "hemtjänst, larm, omsorg",
                numbers=(
                    _n("Larmtelefon {unit}", "on_call", "hemtjänst, trygghetslarm"),
                    _n("Planering {unit}", "group", "hemtjänst, planering"),
                ),
            ),
            UnitTemplate(
                "Individ- och familjeomsorg {}",
                "area",
                2,
                1.0,
                (("Socialsekreterare", 0.7), ("Familjebehandlare", 0.15), ("Handläggare", 0.15)),
                "socialtjänst, barn och familj, ekonomiskt bistånd",
                numbers=(_n("Mottagning {unit}", "group", "socialtjänst, mottagning"),),
            ),
            UnitTemplate(
                "{}gården",
                "tree",
                4,
                1.4,
                (
                    ("Undersköterska", 0.6),
                    ("Vårdbiträde", 0.25),
                    ("Sjuksköterska", 0.1),
                    ("Aktivitetssamordnare", 0.05),
                ),
                "äldreboende, särskilt boende",
                numbers=(_n("Sjuksköterska {unit}", "on_call", "äldreboende, sjuksköterska"),),
            ),
            UnitTemplate(
                "Gruppbostad {}",
                "place",
                3,
                0.7,
                (("Stödassistent", 0.6), ("Boendestödjare", 0.4)),
                "LSS, gruppbostad",
            ),
            UnitTemplate(
                "Biståndshandläggning",
                None,
                1,
                0.8,
                (("Biståndshandläggare", 0.85), ("Handläggare", 0.15)),
                "bistånd, äldreomsorg, ansökan",
            ),
            UnitTemplate(
                "Hemsjukvård {}",
                "area",
                2,
                0.9,
                (("Sjuksköterska", 0.7), ("Arbetsterapeut", 0.15), ("Fysioterapeut", 0.15)),
                "hemsjukvård, sjuksköterska, rehabilitering",
                numbers=(_n("Sjuksköterska i beredskap {unit}", "on_call", "hemsjukvård"),),
            ),
        ),
    ),
    Forvaltning(
        "Barn- och utbildningsförvaltningen",
        0.35,
        "skola, förskola, utbildning",
        (
            UnitTemplate(
                "{}skolan",
                "place",
                4,
                1.6,
                (
                    ("Lärare", 0.55),
                    ("Elevassistent", 0.14),
                    ("Fritidspedagog", 0.12),
                    ("Speciallärare", 0.05),
                    ("Administratör", 0.05),
                    ("Skolsköterska", 0.03),
                    ("Kurator", 0.03),
                    ("Studie- och yrkesvägledare", 0.03),
                ),
                "grundskola, skola, fritidshem",
                chef_title="Rektor",
                numbers=(_n("Expedition {unit}", "group", "skola, expedition, frånvaro"),),
            ),
            UnitTemplate(
                "Förskolan {}",
                "preschool",
                5,
                0.8,
                (("Förskollärare", 0.45), ("Barnskötare", 0.5), ("Kock", 0.05)),
                "förskola, barnomsorg",
                chef_title="Rektor",
            ),
            UnitTemplate(
                "{town} gymnasium",
                None,
                1,
                2.0,
                (
                    ("Gymnasielärare", 0.75),
                    ("Studie- och yrkesvägledare", 0.05),
                    ("Elevassistent", 0.1),
                    ("Administratör", 0.1),
                ),
                "gymnasium, gymnasieskola",
                chef_title="Rektor",
                numbers=(_n("Expedition {unit}", "group", "gymnasium, expedition"),),
            ),
            UnitTemplate(
                "Elevhälsan",
                None,
                1,
                0.6,
                (("Skolsköterska", 0.4), ("Kurator", 0.3), ("Skolpsykolog", 0.3)),
                "elevhälsa, skolsköterska, kurator",
            ),
            UnitTemplate(
                "Kulturskolan",
                None,
                1,
                0.6,
                (("Musiklärare", 0.7), ("Dramapedagog", 0.3)),
                "kulturskola, musik",
            ),
            UnitTemplate(
                "Vuxenutbildningen",
                None,
                1,
                0.7,
                (("Lärare", 0.8), ("Studie- och yrkesvägledare", 0.2)),
                "vuxenutbildning, SFI, komvux",
                chef_title="Rektor",
            ),
        ),
    ),
    Forvaltning(
        "Samhällsbyggnadsförvaltningen",
        0.12,
        "samhällsbyggnad, teknik",
        (
            UnitTemplate(
                "Bygglov",
                None,
                1,
                0.8,
                (("Bygglovshandläggare", 0.6), ("Byggnadsinspektör", 0.3), ("Administratör", 0.1)),
                "bygglov, bygganmälan, strandskydd",
            ),
            UnitTemplate(
                "Gata och park {}",
                "area",
                2,
                1.0,
                (("Parkarbetare", 0.55), ("Gatuarbetare", 0.35), ("Arbetsledare", 0.1)),
                "gata, park, snöröjning",
                rugged=0.6,
                numbers=(_n("Jour {unit}", "on_call", "gata, felanmälan"),),
            ),
            UnitTemplate(
                "Vatten och avlopp {}",
                "area",
                2,
                0.9,
                (("Drifttekniker", 0.5), ("VA-montör", 0.4), ("Arbetsledare", 0.1)),
                "vatten, avlopp, VA",
                rugged=0.6,
                numbers=(_n("VA-jour {unit}", "on_call", "vatten, avlopp, vattenläcka"),),
            ),
            UnitTemplate(
                "Fastighetsenheten",
                None,
                1,
                1.0,
                (("Fastighetsskötare", 0.6), ("Fastighetsförvaltare", 0.2), ("Drifttekniker", 0.2)),
                "fastighet, lokaler, felanmälan",
                rugged=0.3,
            ),
            UnitTemplate(
                "Lokalvård {}",
                "area",
                2,
                1.0,
                (("Lokalvårdare", 0.9), ("Arbetsledare", 0.1)),
                "lokalvård, städ",
            ),
            UnitTemplate(
                "Måltidsservice {}",
                "place",
                3,
                0.6,
                (("Måltidsbiträde", 0.55), ("Kock", 0.45)),
                "måltider, kost, skolmat",
            ),
        ),
    ),
    Forvaltning(
        "Kultur- och fritidsförvaltningen",
        0.05,
        "kultur, fritid",
        (
            UnitTemplate(
                "Biblioteket {}",
                "place",
                2,
                0.6,
                (("Bibliotekarie", 0.6), ("Biblioteksassistent", 0.4)),
                "bibliotek, lån, e-böcker",
                numbers=(_n("Informationsdisken {unit}", "group", "bibliotek"),),
            ),
            UnitTemplate(
                "Fritidsgården {}",
                "place",
                2,
                0.5,
                (("Fritidsledare", 1.0),),
                "fritidsgård, ungdom",
            ),
            UnitTemplate(
                "{town}badet",
                None,
                1,
                0.7,
                (("Badmästare", 0.6), ("Simlärare", 0.3), ("Receptionist", 0.1)),
                "bad, simhall, simskola",
                numbers=(_n("Reception {unit}", "reception", "bad, simhall"),),
            ),
            UnitTemplate(
                "Kultur och evenemang",
                None,
                1,
                0.5,
                (("Kulturstrateg", 0.4), ("Evenemangssamordnare", 0.6)),
                "kultur, evenemang, föreningsbidrag",
            ),
        ),
    ),
    Forvaltning(
        "Miljöförvaltningen",
        0.02,
        "miljö, hälsoskydd",
        (
            UnitTemplate(
                "Miljö- och hälsoskydd",
                None,
                1,
                0.8,
                (("Miljöinspektör", 0.7), ("Livsmedelsinspektör", 0.3)),
                "miljötillsyn, livsmedel, buller",
                numbers=(_n("Miljörådgivning", "group", "miljö, rådgivning"),),
            ),
            UnitTemplate(
                "Tillstånd och tillsyn",
                None,
                1,
                0.6,
                (("Tillståndshandläggare", 0.6), ("Handläggare", 0.4)),
                "serveringstillstånd, tobak, tillstånd",
            ),
        ),
    ),
    Forvaltning(
        "Räddningstjänsten",
        0.04,
        "räddningstjänst, brand",
        (
            UnitTemplate(
                "Räddningsstyrka {}",
                "place",
                3,
                1.0,
                (("Brandman", 0.85), ("Styrkeledare", 0.15)),
                "räddningstjänst, brand, olycka",
                chef_title="Brandmästare",
                rugged=0.9,
                numbers=(_n("Inre befäl {unit}", "on_call", "räddningstjänst, befäl"),),
            ),
            UnitTemplate(
                "Förebyggande enheten",
                None,
                1,
                0.6,
                (("Brandinspektör", 0.7), ("Handläggare", 0.3)),
                "brandskydd, tillsyn, sotning",
            ),
        ),
        chef_title="Räddningschef",
    ),
)
