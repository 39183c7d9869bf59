"""Writes N short documents shaped like news passages (the RGB-zh benchmark's: 200–1,500 characters of
plain text, one file each), for ingest benchmarks at library scale.

Every passage is different (places, teams, companies, people, numbers and dates drawn from a seeded
random generator), so none is a duplicate of another. Some carry the lines a copied web page brings:
- a copyright or 备案 line before the news (COPYRIGHT_FIRST), after it, or in the middle (COPYRIGHT_LINES);
- the notice and the news on one line (SAME_LINE);
- a breadcrumb or an address line (NAV_LINES);
- and a few are nothing but such lines (ONLY_BOILERPLATE): the only ones an ingest should skip as empty.

    python bench/news.py 20000 /tmp/news          # writes /tmp/news/news-00000.txt …
"""

from __future__ import annotations

import argparse
import random
from pathlib import Path

# Shares of the passages that carry each kind of boilerplate (RGB-zh: 58 of 6,517 were skipped as empty by the
# line-dropping cleaner, 23 of them with real news after a copyright or 备案 line).
COPYRIGHT_FIRST = 0.03
COPYRIGHT_LINES = 0.03
SAME_LINE = 0.01
NAV_LINES = 0.02
ONLY_BOILERPLATE = 0.002
MIN_CHARS, MAX_CHARS = 200, 1500

CITIES = "北京 上海 广州 深圳 杭州 南京 成都 重庆 武汉 西安 天津 苏州 长沙 郑州 青岛 沈阳 大连 厦门 福州 昆明 兰州 合肥 济南 哈尔滨".split()
PAPERS = "中国青年报 新华网 人民网 央视网 中国新闻网 光明日报 经济日报 北京日报 新京报 澎湃新闻".split()
SPORTS = "排球 篮球 足球 乒乓球 羽毛球 游泳 田径 网球".split()
INDUSTRIES = "新能源汽车 集成电路 生物医药 人工智能 物流 文化旅游 现代农业 跨境电商".split()
SURNAMES = "王 李 张 刘 陈 杨 赵 黄 周 吴 徐 孙 胡 朱 高 林 何 郭 马 罗".split()
GIVEN = "伟 芳 娜 敏 静 丽 强 磊 军 洋 勇 艳 杰 娟 涛 明 超 秀英 华 慧 建国 志强 海燕 晓东".split()
ROLES = "主教练 总经理 局长 院长 副市长 首席科学家 董事长 队长 负责人 发言人".split()


def _person(r: random.Random) -> str:
    return r.choice(SURNAMES) + r.choice(GIVEN)


def _date(r: random.Random) -> str:
    return f"{r.randint(2015, 2024)}年{r.randint(1, 12)}月{r.randint(1, 28)}日"


def _sentence(r: random.Random) -> str:
    city, other, sport, ind = r.choice(CITIES), r.choice(CITIES), r.choice(SPORTS), r.choice(INDUSTRIES)
    n, m = r.randint(2, 980), r.randint(1, 99)
    who = f"{r.choice(ROLES)}{_person(r)}"
    return r.choice([
        f"{_date(r)}，{city}{sport}队在全国{sport}联赛决赛中以{r.randint(2, 3)}比{r.randint(0, 2)}战胜{other}队，夺得本赛季冠军。",
        f"{city}市统计局数据显示，今年前{r.randint(2, 11)}个月全市{ind}产业产值达到{n}亿元，同比增长{m}.{r.randint(0, 9)}%。",
        f"据{who}介绍，{city}将新建{r.randint(2, 40)}个{ind}项目，预计带动就业{n * 10}人。",
        f"{city}{ind}企业{r.choice(SURNAMES)}氏集团宣布，将在{other}投资{n}亿元建设研发中心，{_date(r)}前投入使用。",
        f"本届{sport}锦标赛共有来自{r.randint(8, 60)}个国家和地区的{n}名运动员参赛，赛期{r.randint(3, 15)}天。",
        f"{who}在接受采访时表示，球队将继续加强青训体系建设，争取在下赛季取得更好成绩。",
        f"{city}市政府近日印发《关于促进{ind}高质量发展的若干措施》，提出{r.randint(10, 40)}条具体举措。",
        f"截至{_date(r)}，{city}已累计建成{ind}示范基地{m}个，服务企业{n}家。",
        f"{city}队{_person(r)}在{sport}比赛中发挥出色，全场贡献{r.randint(10, 40)}分，当选最有价值球员。",
        f"业内人士认为，{ind}行业正处于快速发展期，{city}和{other}两地的产业协同效应日益显现。",
        f"{_date(r)}，{city}举行{ind}产业对接会，现场签约项目{m}个，签约金额{n}亿元。",
        f"记者从{city}市教育局获悉，今年全市新增中小学学位{n * 10}个，新建改扩建学校{m}所。",
        f"{city}地铁{r.randint(1, 20)}号线{r.choice(['一期', '二期', '延伸段'])}工程{_date(r)}开通运营，全长{m}.{r.randint(0, 9)}公里。",
        f"{who}指出，要坚持以人民为中心的发展思想，切实解决群众急难愁盼问题。",
    ])


def _body(r: random.Random) -> list[str]:
    """Paragraphs of news, 200–1,500 characters in all."""
    want = r.randint(MIN_CHARS, MAX_CHARS)
    paras, size = [], 0
    while size < want:
        para = ""
        for _ in range(r.randint(1, 4)):
            s = _sentence(r)
            if size + len(para) + len(s) > MAX_CHARS:
                break
            para += s
        if not para:
            break
        paras.append(para)
        size += len(para)
    return paras


def _copyright(r: random.Random) -> str:
    paper = r.choice(PAPERS)
    return r.choice([
        f"{paper}版权所有，未经书面授权不得转载。",
        f"Copyright © {r.randint(2010, 2024)} {paper} All Rights Reserved",
        f"京ICP备{r.randint(10_000_000, 99_999_999)}号 京公网安备{r.randint(10**13, 10**14 - 1)}号",
        f"版权声明：本文为{paper}原创稿件，转载请注明出处。",
    ])


def _nav(r: random.Random) -> str:
    return r.choice([f"首页 > 新闻中心 > {r.choice(SPORTS)}", f"地址：{r.choice(CITIES)}市朝阳路{r.randint(1, 300)}号  邮编：{r.randint(100000, 850000)}",
                     "网站地图 | 联系我们 | 关于我们"])


def passage(r: random.Random) -> tuple[str, str]:
    """(kind, text) of one passage: kind names the boilerplate it carries ("plain" for none)."""
    x = r.random()
    if x < ONLY_BOILERPLATE:
        return "only_boilerplate", "\n".join([_copyright(r), _nav(r)][: r.randint(1, 2)])
    body = _body(r)
    x -= ONLY_BOILERPLATE
    if x < COPYRIGHT_FIRST:
        return "copyright_first", "\n".join([_copyright(r), *body])
    x -= COPYRIGHT_FIRST
    if x < COPYRIGHT_LINES:
        at = r.randint(1, len(body))
        return "copyright_line", "\n".join([*body[:at], _copyright(r), *body[at:]])
    x -= COPYRIGHT_LINES
    if x < SAME_LINE:
        return "same_line", "\n".join([_copyright(r) + body[0], *body[1:]])
    x -= SAME_LINE
    if x < NAV_LINES:
        return "nav_line", "\n".join([_nav(r), *body] if r.random() < 0.5 else [*body, _nav(r)])
    return "plain", "\n".join(body)


def generate(n: int, folder: Path, seed: int = 20) -> dict[str, int]:
    """Write ``n`` passages into ``folder`` (news-00000.txt …); returns how many of each kind."""
    folder.mkdir(parents=True, exist_ok=True)
    r = random.Random(seed)
    kinds: dict[str, int] = {}
    width = max(5, len(str(n - 1)))
    for i in range(n):
        kind, text = passage(r)
        kinds[kind] = kinds.get(kind, 0) + 1
        (folder / f"news-{i:0{width}d}.txt").write_text(text + "\n", encoding="utf-8")
    return kinds


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("n", type=int)
    ap.add_argument("folder", type=Path)
    ap.add_argument("--seed", type=int, default=20)
    args = ap.parse_args()
    print(generate(args.n, args.folder, args.seed))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
