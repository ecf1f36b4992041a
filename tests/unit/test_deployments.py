"""Every deployment in prefect.yaml loads, and its run form speaks Swedish."""

from __future__ import annotations

from telefoni.up import PARAMETER_TITLES, load_deployments


def test_every_deployment_loads_with_titled_and_described_parameters() -> None:
    deployments = {d.name: d for d in load_deployments()}

    assert {"directory-sync", "notification-relay", "onboarding-order", "onboarding-batch"} <= set(
        deployments
    )
    for deployment in deployments.values():
        assert deployment.description, deployment.name
        for name, spec in deployment._parameter_openapi_schema.properties.items():
            assert spec["title"] == PARAMETER_TITLES[name], (deployment.name, name)
            assert spec.get("description"), (deployment.name, name)


def test_the_order_form_labels_its_fields_in_swedish() -> None:
    (order,) = [d for d in load_deployments() if d.name == "onboarding-order"]
    schema = order._parameter_openapi_schema
    fields = schema.definitions["OrderRequest"]["properties"]

    assert schema.properties["order"]["title"] == "Beställning"
    assert fields["need_category"]["title"] == "Behovskategori"
    assert "§4.1" in fields["need_category"]["description"]
    assert fields["need_category"]["enum"] == [1, 2, 3]
    assert fields["employee_number"]["title"] == "Anställningsnummer"
