"""Word lists for the fictional municipalities: names, places, streets, notes.

The förvaltningar, their kinds of enheter and titles are in telefoni/demo/organisation.py;
each town's name, districts and addresses in telefoni/demo/places.py.
"""

from __future__ import annotations

MUNICIPALITY = "Sjöbacka kommun"
TOWN = "Sjöbacka"
MAIL_DOMAIN = "sjobacka.example"

# Common Swedish first names, most common first (the generator draws them Zipf-like).
FIRST_NAMES: tuple[str, ...] = (
    "Anna", "Lars", "Maria", "Mikael", "Karin", "Anders", "Eva", "Johan", "Kristina", "Erik",
    "Lena", "Per", "Sara", "Karl", "Emma", "Peter", "Kerstin", "Thomas", "Ingrid", "Jan",
    "Marie", "Daniel", "Malin", "Fredrik", "Jenny", "Hans", "Hanna", "Andreas", "Birgitta",
    "Stefan", "Linnéa", "Mats", "Annika", "Magnus", "Susanne", "Bengt", "Elin", "Jonas",
    "Johanna", "Mattias", "Åsa", "Alexander", "Ulla", "Oskar", "Camilla", "Niklas", "Sofia",
    "Marcus", "Ida", "Björn", "Linda", "Göran", "Margareta", "Martin", "Carina", "Henrik",
    "Elisabeth", "Joakim", "Helena", "Ulf", "Julia", "Christer", "Therese", "Sven", "Anneli",
    "Håkan", "Frida", "Leif", "Matilda", "Kjell", "Ebba", "Tobias", "Moa", "Emil", "Agnes",
    "Viktor", "Ella", "Simon", "Maja", "Gustav", "Astrid", "Linus", "Märta", "Filip", "Signe",
    "Anton", "Saga", "Axel", "Tove", "Hugo", "Lovisa", "Elias", "Amanda", "William",
    "Josefin", "Oliver", "Cecilia", "Lucas", "Ulrika", "Adam", "Anette", "Isak", "Gunilla",
    "Måns", "Pia", "Pär", "Madeleine", "Örjan", "Jessica", "Sören", "Sandra", "Jörgen",
    "Lisa", "Åke", "Emelie", "Rolf", "Louise", "Ola", "Rebecka", "Kent", "Klara", "Patrik",
    "Ylva", "Robert", "Yvonne", "Rasmus", "Britt-Marie", "Sebastian", "Anna-Karin", "Jesper",
    "Fatima", "Mohammad", "Amina", "Ahmed", "Leila", "Ali", "Mirela", "Omar", "Hélène",
    "Yusuf", "Aida", "Dragan", "Zeynep", "Mehmet", "Ronja", "Torbjörn", "Gunnel", "Rikard",
    "Solveig", "Göte",
)  # fmt: skip

LAST_NAMES: tuple[str, ...] = (
    "Andersson", "Johansson", "Karlsson", "Nilsson", "Eriksson", "Larsson", "Olsson",
    "Persson", "Svensson", "Gustafsson", "Pettersson", "Jonsson", "Jansson", "Hansson",
    "Bengtsson", "Jönsson", "Lindberg", "Jakobsson", "Magnusson", "Olofsson", "Lindström",
    "Lindqvist", "Lindgren", "Berg", "Axelsson", "Bergström", "Lundberg", "Lind", "Lundgren",
    "Lundqvist", "Mattsson", "Berglund", "Fredriksson", "Sandberg", "Henriksson", "Forsberg",
    "Sjöberg", "Wallin", "Ali", "Engström", "Mohamed", "Eklund", "Danielsson", "Lundin",
    "Håkansson", "Björk", "Bergman", "Gunnarsson", "Holm", "Wikström", "Samuelsson",
    "Isaksson", "Fransson", "Bergqvist", "Nyström", "Holmberg", "Arvidsson", "Löfgren",
    "Söderberg", "Nyberg", "Blomqvist", "Claesson", "Nordström", "Mårtensson", "Lundström",
    "Ahmed", "Viklund", "Björklund", "Eliasson", "Pålsson", "Hassan", "Berggren", "Sandström",
    "Lund", "Nordin", "Ström", "Åberg", "Hermansson", "Ekström", "Holmgren", "Falk",
    "Dahlberg", "Hellström", "Hedlund", "Sundberg", "Sjögren", "Ek", "Blom", "Abrahamsson",
    "Martinsson", "Öberg", "Andreasson", "Strömberg", "Månsson", "Åkesson", "Hansen",
    "Jonasson", "Norberg", "Sundström", "Åström", "Lindholm", "Holmqvist", "Ivarsson",
    "Nordqvist", "Lindblom", "Söderström", "Sjöström", "Höglund", "Karlström", "Hedström",
    "Lindén", "Bäckström", "Nordlund", "Ekman", "Dahl", "Sundqvist", "Hedberg", "Lundmark",
    "Ågren", "Ekberg", "Holmström", "Wahlström", "Forsström", "Törnqvist", "Östlund",
    "Nygren", "Nyholm", "Sköld", "Fors", "Malmberg", "Lilja", "Hussein", "Nguyen", "Yilmaz",
    "Kaya", "Rahimi", "Kovačević", "Virtanen", "Korhonen", "Novak", "Omar", "Abdi", "Jusufović",
    "Engberg", "Grahn", "Rydén", "Löfstedt", "Boström", "Wennberg", "Hägg", "Älvström",
)  # fmt: skip

# Districts and villages of Sjöbacka (fictional). Each also works as "{place}skolan".
PLACES: tuple[str, ...] = (
    "Björkvik", "Lövsta", "Ängsby", "Ekbacka", "Tallmo", "Sjölunda", "Granbo", "Rönnås",
    "Hagby", "Lindås", "Norrvik", "Solbacka", "Ekeby", "Västerby", "Öjebo", "Åsby",
    "Kvarnby", "Bäckalund", "Målsta", "Hällby", "Sörby", "Mossebo", "Vretby", "Källsta",
    "Ljungby", "Forsbacka", "Åkerby", "Strandmo", "Lillsjö", "Högbo", "Kyrkbacka", "Ängstorp",
)  # fmt: skip
# Districts and villages of Älvnäs (fictional).
ALVNAS_PLACES: tuple[str, ...] = (
    "Forsnäs", "Älvbacka", "Östernäs", "Sandvik", "Brattås", "Kvarnnäs", "Myrby", "Gällsta",
    "Näsby", "Tjärnmo", "Lidby", "Hallbo", "Rödnäs", "Åkernäs", "Björnbo", "Stensjö",
    "Kärrby", "Ulvsta", "Vikbo", "Storbacka",
)  # fmt: skip
DIRECTIONS: tuple[str, ...] = ("Norra", "Södra", "Östra", "Västra", "Centrum")
TREES: tuple[str, ...] = (
    "Lind", "Ek", "Björk", "Alm", "Lönn", "Slån", "Syren", "Rönn", "Asp", "Gran", "Tall",
    "Sol", "Ros", "Ljung", "Vide", "Hassel", "Sälg", "Ask", "Klöver", "Vallmo",
)  # fmt: skip
PRESCHOOLS: tuple[str, ...] = (
    "Ekorren", "Myran", "Humlan", "Nyckelpigan", "Solrosen", "Blåklinten", "Tallkotten",
    "Trollsländan", "Lärkan", "Svalan", "Igelkotten", "Fjärilen", "Ugglan", "Vitsippan",
    "Lingonet", "Blåbäret", "Stjärnan", "Regnbågen", "Måsen", "Grodan", "Räven", "Älgen",
)  # fmt: skip
STREETS: tuple[str, ...] = (
    "Storgatan", "Kyrkogatan", "Järnvägsgatan", "Skolgatan", "Torggatan", "Sjövägen",
    "Parkvägen", "Ringvägen", "Björkvägen", "Idrottsvägen", "Industrigatan", "Stationsgatan",
    "Allégatan", "Ängsvägen", "Hantverkargatan", "Prästgårdsvägen", "Vallgatan", "Mejerigatan",
    "Bruksgatan", "Lärkvägen", "Kvarnvägen", "Åsvägen", "Smedjegatan", "Lövängsvägen",
    "Backegatan", "Tingshusgatan", "Brogatan", "Södra vägen", "Norra Långgatan", "Östra gatan",
)  # fmt: skip


def fills(districts: tuple[str, ...]) -> dict[str, tuple[str, ...]]:
    """What fills each kind of enhet's name ("{}skolan", "Hemtjänst {}") in a town with
    these districts."""
    return {
        "place": districts,
        "area": (*DIRECTIONS, *districts),
        "tree": TREES,
        "preschool": PRESCHOOLS,
    }


OFFICE_HOURS = "mån–fre 08.00–12.00, 13.00–16.00"
PHONE_HOURS: tuple[str, ...] = (
    OFFICE_HOURS,
    "mån–fre 07.30–16.00",
    "mån–tors 08.00–16.30, fre 08.00–15.00",
    "mån–fre 09.00–11.00",
)

ACCESSIBILITY_NOTES: tuple[str, ...] = (
    "Synnedsättning – behöver stora knappar och tydlig skärm",
    "Nedsatt finmotorik – behöver stora, kännbara knappar",
    "Hörselnedsättning – behöver telefon som fungerar med hörapparat",
)
RUGGED_NOTES: tuple[str, ...] = (
    "Arbetar utomhus i väta, smuts och kyla – behöver vatten- och stöttålig telefon",
    "Arbete i VA-anläggning – telefonen utsätts för vatten och smuts",
    "Utryckningsarbete – behöver stöttålig telefon som tål vatten och smuts",
)
HEADSETS: tuple[str, ...] = (
    "Headset, trådlöst in-ear",
    "Headset med mikrofonbygel",
    "Headset med brusreducering",
)
