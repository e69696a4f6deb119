"""« Classes »: the school classes of a year (from the schools' system, through enrolment), and a
class's children with their registrations and the age-group checks, in French."""

from __future__ import annotations

import re
from datetime import date

from marelle_backoffice.pages.classes import current_school_year

from .conftest import problem, sign_in
from .enrolment_sample import CHILD_LEA, CLASS_CHILDREN, CLASSES, SCHOOL_YEAR, UAI
from .sample import FAMILY_ID, OTHER_FAMILY_ID


def with_classes(fake):
    fake.on("GET", "enrolment", "/staff/classes", CLASSES)
    fake.on("GET", "enrolment", "/staff/classes/children", CLASS_CHILDREN)
    return fake


async def test_the_classes_of_a_school_year_link_to_their_children(backoffice, fake):
    async with backoffice(with_classes(fake)) as client:
        sign_in(client)
        response = await client.get("/classes", params={"annee": SCHOOL_YEAR})
    html = response.text
    [sent] = fake.sent("GET", "enrolment", "/staff/classes")
    assert sent.url.params["school_year"] == SCHOOL_YEAR
    assert response.status_code == 200
    assert "<h1>Classes 2016-2017</h1>" in html
    assert "Classes de l&#39;année scolaire 2016-2017 (2)" in html
    assert '<a href="/classes" aria-current="page">Classes</a>' in html  # the enrolment sub-nav
    rows = re.findall(r"<tr>\s*<td>(.*?)</td>\s*<th scope=\"row\"><a href=\"(.*?)\">(.*?)<span"
                      r".*?</th>\s*<td>(.*?)</td>\s*<td>(.*?)</td>", html, re.S)
    assert [(school.split(" <")[0], link, name, levels, count)
            for school, link, name, levels, count in rows] == [
        ("École Pasteur", f"/classes/eleves?annee=2016-2017&amp;ecole={UAI}&amp;classe=CE1-CE2",
         "CE1-CE2", "CE1, CE2", "24"),
        ("École Pasteur", f"/classes/eleves?annee=2016-2017&amp;ecole={UAI}&amp;classe=CP+A",
         "CP A", "CP", "3"),
    ]
    assert '<a href="/classes?annee=2015-2016">Année précédente (2015-2016)</a>' in html


async def test_the_list_opens_on_the_school_year_under_way(backoffice, fake):
    fake.on("GET", "enrolment", "/staff/classes",
            lambda r: {"school_year": r.url.params["school_year"], "items": []})
    async with backoffice(fake) as client:
        sign_in(client)
        response = await client.get("/classes")
    [sent] = fake.sent("GET", "enrolment", "/staff/classes")
    assert sent.url.params["school_year"] == current_school_year()
    assert "Aucune classe connue pour l&#39;année scolaire" in response.text
    assert current_school_year(date(2026, 8, 31)) == "2025-2026"
    assert current_school_year(date(2026, 9, 1)) == "2026-2027"


async def test_a_mistyped_year_is_said_by_its_field_and_asks_nothing(backoffice, fake):
    async with backoffice(fake) as client:
        sign_in(client)
        response = await client.get("/classes", params={"annee": "2016-2018"})
    assert response.status_code == 422
    assert "L&#39;année scolaire s&#39;écrit avec deux années qui se suivent" in response.text
    assert 'aria-invalid="true"' in response.text
    assert not fake.domain_calls()


async def test_a_class_shows_its_children_registrations_and_age_flags(backoffice, fake):
    async with backoffice(with_classes(fake)) as client:
        sign_in(client)
        response = await client.get("/classes/eleves", params={
            "annee": SCHOOL_YEAR, "ecole": UAI, "classe": "CP A"})
    html = response.text
    [sent] = fake.sent("GET", "enrolment", "/staff/classes/children")
    assert dict(sent.url.params) == {"school_year": SCHOOL_YEAR, "school_id": UAI,
                                     "class_name": "CP A"}
    assert response.status_code == 200
    assert "<h1>Classe CP A – École Pasteur</h1>" in html
    assert "Élèves de la classe CP A (3)" in html
    assert "Inscriptions à vérifier : 1" in html
    rows = dict(re.findall(r'<tr id="eleve-([0-9a-f-]+)">(.*?)</tr>', html, re.S))
    hugo = rows[CLASS_CHILDREN["children"][0]["child_id"]]
    assert f'<a href="/familles/{OTHER_FAMILY_ID}"' in hugo
    assert "20/11/2010" in hugo and "<td>5 ans</td>" in hugo
    assert "groupe « 9-11 ans » (9 à 11 ans)" in hugo and "Liste d&#39;attente" in hugo
    assert ("Âge hors du groupe : le groupe « 9-11 ans » accueille les enfants de 9 à 11 ans "
            "(âge au début de la période, le 20/10/2016) ; Hugo a alors 5 ans.") in hugo
    assert ("Niveau scolaire et groupe ne concordent pas : le groupe « 9-11 ans » accueille les "
            "enfants de 9 à 11 ans, alors qu&#39;un élève de CP a normalement 6 ans au "
            "31/12/2016.") in hugo
    lea = rows[CHILD_LEA]
    assert f'<a href="/familles/{FAMILY_ID}"' in lea and "Validée" in lea
    assert "Âge hors du groupe" not in lea and "ne concordent pas" not in lea
    unknown = rows[CLASS_CHILDREN["children"][2]["child_id"]]
    assert "Enfant pas encore connu" in unknown and "/familles/" not in unknown
    assert "Aucune inscription cette année" in unknown
    assert '<a href="/classes?annee=2016-2017">Retour aux classes 2016-2017</a>' in html


async def test_an_unknown_class_is_enrolment_s_404(backoffice, fake):
    fake.on("GET", "enrolment", "/staff/classes/children",
            problem(404, "La classe « CM2 Z » n'a aucun élève connu pour l'année scolaire "
                         "2016-2017 dans cette école."))
    async with backoffice(fake) as client:
        sign_in(client)
        response = await client.get("/classes/eleves", params={
            "annee": SCHOOL_YEAR, "ecole": UAI, "classe": "CM2 Z"})
        bad_year = await client.get("/classes/eleves", params={
            "annee": "2016", "ecole": UAI, "classe": "CP A"})
    assert response.status_code == 404
    assert "« CM2 Z » n&#39;a aucun élève connu" in response.text
    assert bad_year.status_code == 404
    assert len(fake.sent("GET", "enrolment", "/staff/classes/children")) == 1


async def test_the_classes_need_a_staff_session(backoffice, fake):
    async with backoffice(fake) as client:
        response = await client.get("/classes")
    assert response.status_code in (302, 303)
    assert not fake.domain_calls()
