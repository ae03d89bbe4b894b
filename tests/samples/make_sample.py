"""Write helpers/sample/sarcasm_sample.json: 300 made-up headlines in the real file's schema.

Run from anywhere: python tests/samples/make_sample.py [FOLDER] (default helpers/sample; the output is committed).
It lives beside its test, tests/samples/test_samples.py, outside the installed package, which ships the data only.
Nothing here is taken from the real dataset; a test checks that no headline appears in it.
"""
import json
import random
import re
import sys
from pathlib import Path

rng = random.Random(2026)
who = ["area man", "local mom", "area dad", "teen", "grandmother", "office manager", "divorced father",
       "college sophomore", "unemployed cousin", "neighborhood cat", "new intern", "retired dentist"]
sarcastic_tpl = [
    "{who} {brag}",
    "{who} quietly proud of {small}",
    "{who} announces plans to {absurd}",
    "nation's {group} {absurd_past}",
    "report: {group} {absurd_stat}",
    "{who} heroically {small_verb} for third time this week",
    "study finds {group} {absurd_stat}",
    "{who} still waiting for perfect moment to {absurd}",
    # the same words as the sincere headlines, used in jest: the model must read more than keywords
    "{official} heroically reads one page of {policy}",
    "{city} votes to {absurd}",
    "new study links {topic} to {absurd_health}",
    "{people} {absurd_past}",
]
brag = ["finally reads terms and conditions, regrets everything", "wins argument with self in shower",
        "takes bold stand against minor inconvenience", "completes entire errand without incident",
        "achieves inner peace for nine seconds", "rearranges furniture to avoid feelings"]
small = ["remembering own password", "owning one matching pair of socks", "barely surviving monday",
         "eating salad near a vegetable", "replying to email within fiscal year"]
absurd = ["befriend the microwave", "run for office of household snack czar", "retire at age 31 on coupons",
          "live entirely inside group chat", "finally fold laundry sometime next decade"]
absurd_past = ["demand refund from the concept of tuesday", "unite behind giant inflatable lawn gnome",
               "declare brunch a human right", "mourn death of cargo shorts", "vow to stop clapping when plane lands"]
group = ["dads", "millennials", "cat owners", "middle managers", "pundits", "tourists", "retirees", "toddlers"]
absurd_stat = ["now 80 percent nap", "secretly run entire economy", "have never once enjoyed a conference call",
               "spend most of year looking for car keys", "just pretending to understand wine"]
small_verb = ["unloads dishwasher", "waters houseplant", "changes lightbulb", "checks mailbox", "makes bed"]

serious_tpl = [
    "{official} {act} {policy} amid {issue}",
    "{n} {things} to {verb} this {season}",
    "what {people} need to know about {topic}",
    "the surprising science of {topic}",
    "{city} votes on {policy} after {issue}",
    "how {people} are coping with {issue}",
    "{official} faces questions over {issue}",
    "new study links {topic} to {health}",
    # the same words as the sarcastic headlines, used in earnest
    "{who} rescued after {incident}",
    "{who} charged in {crime}",
    "report: {group} face {serious_cost}",
    "study finds {group} {serious_finding}",
]
official = ["senator", "governor", "mayor", "supreme court", "congress", "city council", "the white house", "lawmakers"]
act = ["unveils", "blocks", "defends", "proposes", "debates", "delays"]
policy = ["climate bill", "healthcare plan", "minimum wage increase", "immigration reform", "school funding measure",
          "housing proposal", "tax overhaul"]
issue = ["rising rents", "record heat", "budget shortfall", "opioid crisis", "wildfire season", "election dispute",
         "teacher strikes"]
n = ["5", "7", "10", "12", "15"]
things = ["recipes", "books", "podcasts", "habits", "destinations", "documentaries"]
verb = ["try", "read", "discover", "explore", "watch"]
season = ["summer", "winter", "fall", "weekend", "holiday season"]
people = ["parents", "voters", "renters", "students", "nurses", "small business owners"]
topic = ["sleep", "screen time", "gut health", "remote work", "student debt", "meditation", "coffee"]
health = ["better memory", "heart disease", "lower stress", "longer life", "anxiety"]
city = ["chicago", "seattle", "houston", "denver", "atlanta", "boston"]
absurd_health = ["owning fourteen identical mugs", "yelling at clouds", "a personality", "finally being left alone",
                 "pretending to read the news"]
incident = ["house fire", "flash flood", "hiking accident", "boating mishap", "apartment collapse"]
crime = ["bank fraud case", "hit-and-run", "insurance scam", "burglary spree", "identity theft scheme"]
serious_cost = ["rising rents", "higher insurance premiums", "longer commutes", "medical debt", "childcare costs"]
serious_finding = ["sleep less than they did a decade ago", "are delaying retirement", "struggle to afford housing",
                   "report more loneliness", "spend more on groceries"]

pools = dict(who=who, brag=brag, small=small, absurd=absurd, absurd_past=absurd_past, group=group,
             absurd_stat=absurd_stat, small_verb=small_verb, official=official, act=act, policy=policy,
             issue=issue, n=n, things=things, verb=verb, season=season, people=people, topic=topic,
             health=health, city=city, absurd_health=absurd_health, incident=incident, crime=crime,
             serious_cost=serious_cost, serious_finding=serious_finding)

def fill(tpl):
    return re.sub(r"\{(\w+)\}", lambda m: rng.choice(pools[m.group(1)]), tpl)

def make(templates, count):
    seen = []
    while len(seen) < count:
        h = fill(rng.choice(templates))
        if h not in seen:
            seen.append(h)
    return seen

ambiguous = ["spends entire weekend cleaning garage", "opens up about a difficult year", "says goodbye to beloved minivan",
             "tries meditation for the first time", "reflects on thirty years at the same desk"]
pools["ambiguous"] = ambiguous
# some headlines cannot be told from their words alone: both labels occur, as in the real data
unclear = [(h, rng.randint(0, 1)) for h in make(["{who} {ambiguous}"], 30)]
rows = [(h, 1) for h in make(sarcastic_tpl, 125)] + [(h, 0) for h in make(serious_tpl, 145)] + unclear
rng.shuffle(rows)
def link(h, s, i):
    slug = re.sub(r"[^a-z0-9]+", "-", h).strip("-")
    return (f"https://local.theonion.com/{slug}-{1819570000 + i}" if s
            else f"https://www.huffingtonpost.com/entry/{slug}_us_{i:08x}")
records = [{"article_link": link(h, s, i), "headline": h, "is_sarcastic": s} for i, (h, s) in enumerate(rows)]
folder = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parents[2] / "helpers" / "sample"
with open(folder / "sarcasm_sample.json", "w") as f:
    f.write("[\n" + ",\n".join(json.dumps(r) for r in records) + "\n]\n")
print(len(records), sum(r["is_sarcastic"] for r in records))
