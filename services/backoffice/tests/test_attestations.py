"""Attestations of registration: the pending ones, « Délivrer », the issued ones."""

from __future__ import annotations

from .conftest import csrf_of, problem, sign_in
from .enrolment_sample import ATTESTATION_ID, ATTESTATIONS, ISSUED
from .sample import FAMILY_ID


def attestations(fake):
    fake.on("GET", "enrolment", "/staff/attestation-requests",
            lambda request: ISSUED if request.url.params.get("status") == "delivree"
            else ATTESTATIONS)
    return fake


async def test_pending_attestations_each_have_an_issue_button(backoffice, fake):
    async with backoffice(attestations(fake)) as client:
        sign_in(client)
        response = await client.get("/attestations")
    html = response.text
    [sent] = fake.sent("GET", "enrolment", "/staff/attestation-requests")
    assert sent.url.params["status"] == "demandee"
    assert response.status_code == 200 and "<h1>Attestations d&#39;inscription</h1>" in html
    assert '<caption id="attestations-legende">Attestations à délivrer (1)</caption>' in html
    assert '<th scope="row">Léa Martin</th>' in html
    assert f'<a href="/familles/{FAMILY_ID}">' in html
    assert '<time datetime="2016-12-31T23:30:00+00:00">01/01/2017 00:30</time>' in html
    assert f'<form method="post" action="/attestations/{ATTESTATION_ID}/delivrer">' in html
    assert '<a href="/attestations" aria-current="page">À délivrer</a>' in html


async def test_issuing_posts_to_enrolment_and_says_where_the_family_finds_it(backoffice, fake):
    fake.on("POST", "enrolment", f"/staff/attestation-requests/{ATTESTATION_ID}/issue",
            {**ISSUED["items"][0]})
    async with backoffice(attestations(fake)) as client:
        sign_in(client)
        csrf = await csrf_of(client, "/attestations")
        response = await client.post(f"/attestations/{ATTESTATION_ID}/delivrer",
                                     data={"csrf": csrf})
        after = await client.get(response.headers["location"])
    assert len(fake.sent("POST", "enrolment",
                         f"/staff/attestation-requests/{ATTESTATION_ID}/issue")) == 1
    assert response.status_code == 303
    assert response.headers["location"] == "/attestations?message=delivree"
    assert "la famille peut la télécharger depuis son portail" in after.text
    assert ".pdf" not in after.text  # nothing to download here


async def test_an_attestation_already_issued_is_a_409_message(backoffice, fake):
    fake.on("POST", "enrolment", f"/staff/attestation-requests/{ATTESTATION_ID}/issue",
            problem(409, "Cette attestation a déjà été délivrée."))
    async with backoffice(attestations(fake)) as client:
        sign_in(client)
        csrf = await csrf_of(client, "/attestations")
        response = await client.post(f"/attestations/{ATTESTATION_ID}/delivrer",
                                     data={"csrf": csrf})
    assert response.status_code == 409
    assert 'class="error-summary" role="alert"' in response.text
    assert "Cette attestation a déjà été délivrée." in response.text


async def test_issued_attestations_are_listed_with_their_date(backoffice, fake):
    async with backoffice(attestations(fake)) as client:
        sign_in(client)
        response = await client.get("/attestations", params={"status": "delivree"})
        odd = await client.get("/attestations", params={"status": "autre"})
    html = response.text
    assert fake.sent("GET", "enrolment", "/staff/attestation-requests")[0].url.params["status"] \
        == "delivree"
    assert "Attestations délivrées (1)" in html and "02/01/2017 10:00" in html
    assert "/delivrer" not in html
    assert '<a href="/attestations?status=delivree" aria-current="page">Délivrées</a>' in html
    assert "Attestations à délivrer (1)" in odd.text  # an unknown status is the default list


async def test_issue_needs_a_well_formed_id(backoffice, fake):
    async with backoffice(fake) as client:
        sign_in(client)
        csrf = await csrf_of(client, "/sante")
        response = await client.post("/attestations/abc/delivrer", data={"csrf": csrf})
    assert response.status_code == 404
    assert not fake.domain_calls()
