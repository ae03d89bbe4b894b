"""Write helpers/sample/news_topics.jsonl: 280 made-up news headlines in four topics, for notebook 07.

Run from anywhere: python tests/samples/make_topics.py [FOLDER] (default helpers/sample; the output is committed).
It lives beside its test, tests/samples/test_samples.py, outside the installed package, which ships the data only.
Other column names than the sarcasm sample (`title`, `topic`), labels as text, four imbalanced classes
(40/30/20/10 %), about a third of the headlines in Korean and a few with emoji. Every name in it is made up.
Topics share some words ("record", "launch", "wins", "기록", "발표") and a few headlines mix two topics,
so a model has to learn more than one keyword per topic.
"""
import json
import random
import re
import sys
from pathlib import Path

rng = random.Random(7)
COUNTS = {"politics": 112, "sports": 84, "science": 56, "entertainment": 28}  # 40/30/20/10 %
KOREAN_SHARE, MIXED_SHARE, UNCLEAR = 0.38, 0.10, 12
EMOJI_ROWS = {"politics": 6, "sports": 5, "science": 4, "entertainment": 4}  # every emoji below occurs

english = {
    "politics": [
        "{official} {act} {policy}",
        "{official} {act} {policy} amid {issue}",
        "{party} wins {region} by-election",
        "{official} faces vote of no confidence over {issue}",
        "coalition talks stall as {party} rejects {policy}",
        "polls show tight race ahead of {region} election",
        "minister resigns after {scandal}",
        "{party} launches campaign promising {policy}",
        "parliament passes {policy} by {n} votes",
    ],
    "sports": [
        "{team} beat {team2} {score} in {competition}",
        "{player} scores twice as {team} reach {stage}",
        "{team} sack coach after {n} straight defeats",
        "record crowd watches {team} lift {competition} trophy",
        "{player} breaks {event} record",
        "{player} signs new contract with {team}",
        "{team} fans vote {player} player of the season",
        "injury rules {player} out of {stage}",
    ],
    "science": [
        "researchers find {finding} in {subject}",
        "new telescope spots {space}",
        "{agency} launches probe to {planet}",
        "study links {factor} to {outcome}",
        "scientists sequence genome of {organism}",
        "record {measure} measured in {subject}",
        "team of researchers wins prize for work on {subject}",
    ],
    "entertainment": [
        "{film} tops box office with record opening weekend",
        "{singer} announces world tour",
        "{show} renewed for season {n}",
        "award nominations: {film} leads with {n} nods",
        "{singer} launches new album at sold-out show",
        "fans vote {show} best series of the year",
    ],
}
mixed = {  # two topics in one headline; the label is the one the story is about
    "politics": ["minister promises new stadium for {team}", "{party} funds {agency} after probe to {planet}"],
    "sports": ["{player} thanks {official} after {competition} win",
               "study of {player} sprint speed thrills {team} fans"],
    "science": ["{singer} song used in study of {outcome}", "{agency} measures crowd noise at {team} stadium"],
    "entertainment": ["{film} about {party} election tops box office", "{player} stars in new season of {show}"],
}
pools = dict(
    official=["prime minister", "finance minister", "parliament", "city council", "opposition leader", "lawmakers"],
    act=["unveils", "blocks", "defends", "proposes", "debates", "delays"],
    policy=["housing bill", "tax reform", "minimum wage rise", "school funding plan", "climate law", "pension reform"],
    issue=["rising rents", "budget deficit", "border dispute", "strike wave", "leaked memo"],
    party=["the unity party", "the green alliance", "the reform bloc", "the people's front"],
    region=["northshire", "eastvale", "port calder", "westmoor"],
    scandal=["expenses scandal", "lobbying row", "leaked memo"],
    team=["riverside rovers", "port calder united", "northshire falcons", "eastvale comets"],
    team2=["westmoor wanderers", "harbour city", "greenfield athletic"],
    player=["tomas varga", "lena osei", "jae-won kim", "marco bellini", "aiko mori"],
    score=["2-1", "3-0", "1-0", "4-2"],
    competition=["cup final", "league", "continental cup"],
    stage=["semi-final", "final", "play-offs"],
    event=["marathon", "100 metres", "long jump", "swimming"],
    finding=["microplastics", "a new enzyme", "ancient dna", "frozen water"],
    subject=["deep-sea corals", "arctic ice", "bat colonies", "volcanic soil", "honeybees"],
    space=["a distant galaxy", "an earth-like planet", "a comet's tail", "a black hole merger"],
    agency=["the space agency", "the national lab", "the orbital institute"],
    planet=["mars", "jupiter's moon", "venus"],
    factor=["sleep", "air pollution", "coffee", "screen time"],
    outcome=["memory", "heart health", "mood"],
    organism=["the axolotl", "a desert moss", "wheat"],
    measure=["temperature", "wind speed", "ice loss"],
    film=["starlight harbour", "the last train", "midnight orchard"],
    singer=["luna vale", "the blue notes", "kai summers"],
    show=["the quiet house", "city of glass", "weekend kitchen"],
    n=["2", "3", "4", "5", "7"],
)

korean = {
    "politics": [
        "국회, {정책} 법안 통과",
        "{정당} 대표, {정책} 두고 공방",
        "{지역} 보궐선거서 {정당} 승리",
        "{장관}, {이슈} 책임지고 사퇴",
        "여론조사: {지역} 선거 접전",
        "정부, {정책} 발표",
    ],
    "sports": [
        "{팀}, {팀2} 꺾고 {대회} 결승 진출",
        "{선수} 두 골… {팀} 3연승",
        "{팀} 감독 경질, {n}연패 끝에",
        "{선수}, {종목} 신기록 작성",
        "{팀}, {대회} 우승 차지",
    ],
    "science": [
        "연구진, {대상}에서 {발견} 발견",
        "{기관}, {행성} 탐사선 발사 성공",
        "새 망원경으로 {천체} 관측",
        "연구 결과: {요인}, {결과}에 영향",
        "{대상} 연구로 {기관} 과학상 수상",
    ],
    "entertainment": [
        "영화 '{영화}', 개봉 첫 주 박스오피스 1위",
        "{가수}, 새 앨범 발표… 월드 투어 예고",
        "드라마 '{드라마}' 시청률 최고 기록",
        "영화 '{영화}', 영화제 {n}개 부문 후보",
    ],
}
mixed_ko = {
    "politics": ["{장관}, {팀} 새 경기장 약속"],
    "sports": ["{선수}, {장관} 만나 {대회} 우승 소감 발표"],
    "science": ["{기관}, {가수} 공연장 소음 연구 발표"],
    "entertainment": ["{선수}, 드라마 '{드라마}' 출연"],
}
pools |= {
    "정책": ["주거 지원", "세제 개편", "최저임금 인상", "교육 예산", "기후 대응"],
    "정당": ["새물결당", "한빛당", "푸른미래당"],
    "지역": ["한강시", "동해군", "청솔시"],
    "장관": ["재정 장관", "국토 장관", "총리"],
    "이슈": ["예산 부족", "문서 유출", "파업 사태"],
    "팀": ["한강 파랑새", "동해 돌고래", "청솔 호랑이"],
    "팀2": ["서해 갈매기", "남산 독수리"],
    "선수": ["김하람", "박도윤", "이서아", "최지안"],
    "대회": ["전국 리그", "아시아 컵", "봄철 대회"],
    "종목": ["마라톤", "100m", "수영 자유형"],
    "대상": ["심해 산호", "북극 얼음", "꿀벌", "화산 토양"],
    "발견": ["미세플라스틱", "새 효소", "고대 유전자"],
    "기관": ["미래우주청", "한빛과학원"],
    "행성": ["화성", "금성", "목성 위성"],
    "천체": ["먼 은하", "지구형 행성", "혜성 꼬리"],
    "요인": ["수면", "대기 오염", "커피"],
    "결과": ["기억력", "심장 건강", "기분"],
    "영화": ["별빛 항구", "마지막 기차", "한밤의 과수원"],
    "가수": ["루나베일", "블루노츠", "하이틴"],
    "드라마": ["조용한 집", "유리의 도시"],
}
# stories that could be filed under either of two topics: the label is a coin toss, as in real data
unclear = [
    ("{official} attends premiere of {film}", ("politics", "entertainment")),
    ("{player} meets {official} to back {policy}", ("politics", "sports")),
    ("{agency} studies injuries of {team} players", ("science", "sports")),
    ("{장관}, 영화 '{영화}' 시사회 참석", ("politics", "entertainment")),
]
emoji = {"politics": ["🗳️", "🏛️"], "sports": ["⚽", "🏆"], "science": ["🔬", "🚀"], "entertainment": ["🎬", "🎤"]}
shared_emoji = ["🔥", "📢"]  # used by every topic


def fill(template: str) -> str:
    """The template with each {slot} replaced by a random entry of its pool."""
    return re.sub(r"\{(\w+)\}", lambda m: rng.choice(pools[m.group(1)]), template)


def headline(topic: str) -> str:
    """One headline about `topic`: Korean or English, now and then mixing in a second topic."""
    is_korean = rng.random() < KOREAN_SHARE
    templates = (mixed_ko if is_korean else mixed) if rng.random() < MIXED_SHARE else (korean if is_korean else english)
    return fill(rng.choice(templates[topic]))


rows, seen = [], set()
for _ in range(UNCLEAR):
    template, topics = rng.choice(unclear)
    text = fill(template)
    if text not in seen:
        seen.add(text)
        rows.append((text, rng.choice(topics)))
for topic, count in COUNTS.items():
    made = sum(label == topic for _, label in rows)
    while made < count:
        text = headline(topic)
        if text not in seen:
            seen.add(text)
            rows.append((text, topic))
            made += 1
for topic, count in EMOJI_ROWS.items():
    picked = rng.sample([i for i, (_, label) in enumerate(rows) if label == topic], count)
    for i, mark in zip(picked, (emoji[topic] + shared_emoji) * count):
        rows[i] = (f"{rows[i][0]} {mark}", topic)
rng.shuffle(rows)
folder = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parents[2] / "helpers" / "sample"
out = folder / "news_topics.jsonl"
with open(out, "w", encoding="utf-8") as f:
    for i, (text, topic) in enumerate(rows):
        record = {"id": f"n{i:04d}", "title": text, "topic": topic}
        f.write(json.dumps(record, ensure_ascii=False) + "\n")
hangul = sum(bool(re.search("[\uac00-\ud7a3]", text)) for text, _ in rows)
pictures = sum(bool(re.search("[\u2600-\u27bf\U0001F300-\U0001FAFF]", text)) for text, _ in rows)
print(len(rows), {t: sum(x == t for _, x in rows) for t in COUNTS}, f"korean {hangul}, emoji {pictures}")
