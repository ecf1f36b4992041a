"""The fictional municipalities a demo town can be: name, places, and its own numbers.

Several towns may be loaded into one register (one installation serves several
municipalities). Phone numbers and IMEIs are unique across all municipalities, so each
town draws them from its own block; user ids and e-mail domains are its own too.
Employee numbers and personnummer (the test series 980–999) may repeat between towns,
as they do between real municipalities.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from telefoni.demo import names

if TYPE_CHECKING:
    from telefoni.core.municipalities import MunicipalitySettings

# Swedish mobile prefixes after +467 for the blocks after the first; each block is 1 M numbers.
_MOBILE_PREFIXES: Final = "2369"
#: How many towns with numbers, IMEIs and user ids of their own one register can hold.
MAX_BLOCKS: Final = 1 + 10 * len(_MOBILE_PREFIXES)


@dataclass(frozen=True)
class Place:
    """A fictional municipality: what its town's names and addresses are, and its block.

    ``block`` decides which mobile numbers (block 0: +4670…, as the first demo town always
    had; block b: +467P D……), which IMEIs (the models' TACs, one batch per block) and which
    user ids (block 0 bare, others prefixed) are its: towns of different blocks never share
    one."""

    name: str  # "Sjöbacka kommun"
    code: str  # "sjobacka"
    town: str  # the main town, in addresses: "Sjöbacka"
    mail_domain: str  # "sjobacka.example"
    districts: tuple[str, ...]  # villages and districts; each also makes "{place}skolan"
    postcode: str  # the first three digits of its postcodes: "694"
    town_hall: str  # the street address of the town hall: "Stadshustorget 1"
    block: int = 0
    user_id_prefix: str = ""

    def __post_init__(self) -> None:
        if not 0 <= self.block < MAX_BLOCKS:
            raise ValueError(f"block must be 0–{MAX_BLOCKS - 1}, not {self.block}")

    @property
    def seed(self) -> int:
        """The seed of its town unless told otherwise: towns of two places, other people."""
        return 1 + self.block

    @property
    def town_hall_address(self) -> str:
        return f"{self.town_hall}, {self.postcode} 80 {self.town}"

    def mobile_number_prefix(self) -> tuple[str, int]:
        """(what every number of this town begins with, how many digits follow)."""
        if self.block == 0:
            return "+4670", 7
        prefix, digit = divmod(self.block - 1, 10)
        return f"+467{_MOBILE_PREFIXES[prefix]}{digit}", 6

    def tac(self, model_tac: str) -> str:
        """The TAC of this town's batch of a model: its last two digits moved on by the block."""
        return f"{model_tac[:6]}{(int(model_tac[6:]) + self.block) % 100:02d}"


SJOBACKA: Final = Place(
    name=names.MUNICIPALITY,
    code="sjobacka",
    town=names.TOWN,
    mail_domain=names.MAIL_DOMAIN,
    districts=names.PLACES,
    postcode="694",
    town_hall="Stadshustorget 1",
)
ALVNAS: Final = Place(
    name="Älvnäs kommun",
    code="alvnas",
    town="Älvnäs",
    mail_domain="alvnas.example",
    districts=names.ALVNAS_PLACES,
    postcode="686",
    town_hall="Kommunhusgatan 2",
    block=1,
    user_id_prefix="alv-",
)
#: The fictional municipalities the demo knows by code, in the order `telefoni up` uses.
KNOWN: Final = {p.code: p for p in (SJOBACKA, ALVNAS)}


def place_for(municipality: MunicipalitySettings, index: int) -> Place:
    """The town for a configured municipality: a known one by its code, else one of its own
    name and mail domain (Sjöbacka's districts), in the block after the known ones for the
    ``index``-th municipality of the settings."""
    known = KNOWN.get(municipality.code)
    if known is not None:
        return known
    town = municipality.name.removesuffix(" kommun")
    if municipality.name.endswith("s kommun") and not town.endswith("ss"):
        town = town.removesuffix("s")  # "Hallsbergs kommun" → "Hallsberg"
    return Place(
        name=municipality.name,
        code=municipality.code,
        town=town,
        mail_domain=municipality.mail_domain,
        districts=SJOBACKA.districts,
        postcode=SJOBACKA.postcode,
        town_hall=SJOBACKA.town_hall,
        block=len(KNOWN) + index,
        user_id_prefix=f"{municipality.code}-",
    )
