"""The onboarding forms as Prefect's UI draws them: choices, words, no type switches."""

from __future__ import annotations

from typing import Any

import pytest
from prefect.utilities.schema_tools.validation import ValidationError, validate
from sqlalchemy.exc import OperationalError

from models.onboarding_forms import CATEGORY_CHOICES, DeliveryInput, OrderRequest
from tasks.onboarding.prefect_tasks import transient
from tasks.onboarding.requested import RequestRace, UnknownEmployee, request_key
from telefoni.up import Catalogue, load_deployments
from tests import factories

CATALOGUE = Catalogue(
    models=("Fjällfon X5", "Nordfon 12"),
    standard=("Nordfon 12",),
    options=(("BAS", "Bas utan data"), ("MOBIL5", "Mobil 5 GB")),
)
SJOBACKA = (factories.municipality_settings("sjobacka", "Sjöbacka kommun"),)


def order(**changes: Any) -> OrderRequest:
    values = {
        "employee_number": "E12",
        "need_category": 2,
        "phone_model": "Nordfon 12",
        "subscription_option": "BAS",
        "requested_by": "E1",
    }
    return OrderRequest.model_validate(values | changes)


def order_form(catalogue: Catalogue) -> dict[str, Any]:
    (deployment,) = [
        d for d in load_deployments(municipalities=SJOBACKA, catalogue=catalogue)
        if d.name == "onboarding-order"
    ]  # fmt: skip
    return dict(deployment._parameter_openapi_schema.model_dump_for_openapi())


def test_the_order_form_offers_the_catalogue_and_takes_what_the_terminal_sends() -> None:
    form = order_form(CATALOGUE)
    fields = form["definitions"]["OrderRequest"]["properties"]

    assert fields["phone_model"]["enum"] == ["Fjällfon X5", "Nordfon 12"]
    assert "Standardmodell: Nordfon 12." in fields["phone_model"]["description"]
    assert fields["subscription_option"]["enum"] == ["BAS", "MOBIL5"]
    assert fields["subscription_option"]["description"].endswith(
        "BAS = Bas utan data; MOBIL5 = Mobil 5 GB"
    )
    # What `telefoni onboard` sends (the form's JSON) is what the server lets through.
    validate({"order": order().model_dump(mode="json")}, form, raise_on_error=True)
    for wrong in ({"phone_model": "Telefon A"}, {"subscription_option": "GULD"}):
        with pytest.raises(ValidationError):
            validate({"order": order(**wrong).model_dump(mode="json")}, form, raise_on_error=True)


def test_an_empty_register_leaves_model_and_option_as_text() -> None:
    fields = order_form(Catalogue())["definitions"]["OrderRequest"]["properties"]

    assert "enum" not in fields["phone_model"] and "enum" not in fields["subscription_option"]
    assert fields["phone_model"]["type"] == fields["subscription_option"]["type"] == "string"


def test_no_field_of_the_order_is_optional_by_being_none() -> None:
    schema = OrderRequest.model_json_schema()
    fields = {**schema["properties"], **schema["$defs"]["AppRequest"]["properties"]}

    for name, prop in fields.items():
        assert "anyOf" not in prop, name  # Prefect's UI would show a type switch
        assert prop.get("title") and prop.get("description"), name
    blank = order()
    assert blank.deviation is None and blank.wanted_date is None and blank.deviation_note == ""
    assert order(deviation_reason=None, wanted_by=None, deviation_note=None) == blank


def test_the_need_category_is_chosen_by_its_words_and_read_as_its_digit() -> None:
    by_words = order(need_category=CATEGORY_CHOICES[1])

    assert by_words.need_category == 1 == order(need_category="1").need_category
    assert by_words.model_dump(mode="json")["need_category"] == CATEGORY_CHOICES[1]
    assert OrderRequest.model_validate(by_words.model_dump(mode="json")) == by_words
    # The same request, however the category was given, is one order.
    assert request_key(by_words, None, 1) == request_key(order(need_category=1), None, 1)
    with pytest.raises(ValueError, match="need_category"):
        order(need_category="4 – något annat")


def test_a_wanted_date_is_a_date_or_nothing_and_never_repeated_in_the_error() -> None:
    assert order(wanted_by="2027-08-01").wanted_date is not None
    for wrong in ("i höst", "2027-8-1", "19850709-9805"):
        with pytest.raises(ValueError, match="måste vara ett datum som ÅÅÅÅ-MM-DD") as caught:
            order(wanted_by=wrong)
        assert caught.value.errors()[0]["msg"].count("9805") == 0  # type: ignore[attr-defined]


def test_the_delivery_form_asks_for_number_imei_and_sim_only() -> None:
    schema = DeliveryInput.model_json_schema()

    assert list(schema["properties"]) == ["number", "imei", "sim"]
    assert not schema.get("required")  # an empty answer wakes the run to look again
    for prop in schema["properties"].values():
        assert prop["type"] == "string" and prop["default"] == ""


def test_only_what_may_pass_is_tried_again() -> None:
    lost = OperationalError("SELECT 1", {}, ConnectionError("server closed the connection"))

    assert transient(lost) and transient(RequestRace("samtidigt"))
    assert not transient(UnknownEmployee("anställningsnummer finns inte: A999998"))
    assert not transient(ValueError("§4.1"))
