from conftest import SEEDS

from assistant.core.chinese import sentence_spans
from assistant.ingest.cleaning import clean, iso_date, org_aliases, remove_pinyin


def seed(name_prefix):
    path = next(SEEDS.glob(f"{name_prefix}_*.txt"))
    return clean(path.read_text(encoding="utf-8"), path.name)


def test_metadata_of_all_five_seeds():
    expected = {
        "000": ("我所质检中心党支部在全院“以学促做”工作交流会上介绍经验", "2016-09-28", "长春光机所质检中心党支部", ""),
        "001": ("在贯彻落实中央“两学一做”学习教育工作座谈会精神视频会议上的讲话（刘伟平）", "2016-05-13", "软件研究所", "刘伟平"),
        "002": ("创先争优做表率服务大局创佳绩", "2012-11-05", "哈尔滨焊接研究所", "党群工作部"),
        "003": ("精心組織 扎實推進 有效融合 初見成效——蘭州化物所黨委積極開展“基層組織建設年”活動", "2020", "兰州化物所党委", "段立斌"),
        "004": ("光栅室党支部“创先争优”活动实施方案", "2010-08-27", "光栅室党支部", ""),
    }
    for prefix, (title, date, org, author) in expected.items():
        m = seed(prefix).meta
        assert (m.title, m.date, m.org, m.author) == (title, date, org, author), prefix
    assert seed("001").meta.source.startswith("http://www.is.cas.cn/")
    assert seed("003").meta.date_inferred and not seed("002").meta.date_inferred


def test_boilerplate_removed_and_bylines_kept():
    t1 = seed("001").text
    for junk in ("http://", "首页 >", "【打印】", "【关闭】", "研究员（正高级工程师）", "文章来源"):
        assert junk not in t1
    assert "发布时间：2016-05-13" in t1
    t2 = seed("002").text
    for junk in ("版权所有", "备案图标.png", "黑ICP备", "地址:", "电话:", "技术支持", "企业邮箱"):
        assert junk not in t2
    assert t2.startswith("创先争优做表率服务大局创佳绩\n时间:2012-11-05")
    assert t2.endswith("作者:党群工作部")
    t4 = seed("004").text
    assert "Copyright" not in t4 and "All Rights Reserved" not in t4
    t0 = seed("000").text
    assert "Department:" not in t0 and "News:" not in t0
    t3 = seed("003").text
    assert ".png" not in t3 and t3.endswith("(作者:段立斌 系蘭州化物所黨政辦主任)")


def test_pinyin_artefacts_removed():
    text = seed("003").text
    assert "推進(jìn)" not in text and "(jìn)" not in text and "(shè)" not in text
    assert "精心組織 扎實推進 有效融合" in text
    assert "同謀劃、同部署、同檢查、同考核" in text
    # Only pinyin in parentheses after a character goes; other parentheses stay.
    assert remove_pinyin("推進(jìn)工作(試行)(CMOS)") == "推進工作(試行)(CMOS)"
    assert "《中國共產黨支部工作條例(試行)》" in text


def test_dates_normalised_to_iso():
    assert iso_date("发布时间：2016-05-13") == "2016-05-13"
    assert iso_date("2016 年4 月26 日") == "2016-04-26"
    assert iso_date("2012/6/1") == "2012-06-01"
    assert iso_date("no date") == ""


def test_unknown_layout_falls_back_sensibly():
    doc = clean("关于开展主题党日活动的通知\n\n各党支部：\n为深入学习，现将有关事项通知如下。\n", "x.txt")
    assert doc.meta.title == "关于开展主题党日活动的通知"
    assert doc.meta.date == "" and doc.meta.org == ""
    assert "现将有关事项通知如下。" in doc.text


def test_org_abbreviations_found_in_the_text():
    assert seed("002").meta.aliases == ("哈焊所",)
    assert "长光所" in seed("000").meta.aliases
    assert org_aliases("哈尔滨焊接研究所", "充分利用哈焊所网站，我所开展") == ("哈焊所",)
    assert org_aliases("", "哈焊所") == ()


def test_a_huge_unpunctuated_line_is_cut_in_bounded_pieces_and_nothing_is_lost():
    from assistant.ingest.chunking import chunk, count_tokens
    from assistant.ingest.cleaning import MAX_LINE

    raw = "标题\n" + "党员学习" * 150_000 + "，后半段" + "研讨交流" * 50_000  # 0.8 M characters, one line
    doc = clean(raw, "long.txt")
    lines = doc.text.split("\n")
    assert max(len(line) for line in lines) <= MAX_LINE
    assert doc.text.replace("\n", "") == raw.replace("\n", "")  # cut, never dropped
    chunks = chunk(doc, 300)
    assert all(c.tokens <= 300 and doc.text[c.start:c.end] == c.text for c in chunks)
    assert max(count_tokens(line) for line in lines[:50]) < 4 * MAX_LINE


def test_control_characters_and_page_breaks():
    doc = clean("标题\n第一页。\f第二页\v换行\x07。\u2028下一行\f\f第四页。", "c.txt")
    assert doc.text == "标题\n第一页。\n第二页\n换行。\n下一行\n第四页。"
    assert [doc.meta.page_of(doc.text.index(w)) for w in ("第一页", "第二页", "下一行", "第四页")] == [1, 2, 2, 4]


def test_a_page_break_inside_a_sentence_does_not_split_it():
    """Issue 19: a form feed in the middle of a sentence (a PDF page turning mid-sentence) split it, so
    a talking point or a quote began mid-phrase. The sentence stays whole, its page is still known,
    and a break after a finished sentence or before a heading is kept."""
    text = next(SEEDS.glob("004_*.txt")).read_text(encoding="utf-8")
    plain = clean(text, "p.txt")
    body = plain.text
    at = next(i for i in range(len(body) // 2, len(body))
              if "\u4e00" <= body[i - 1] <= "\u9fff" and "\u4e00" <= body[i] <= "\u9fff")
    raw_at = text.index(body[at - 12:at + 12]) + 12
    paged = clean(text[:raw_at] + "\f" + text[raw_at:], "p.txt")
    assert paged.text == plain.text
    assert [s.text for s in sentence_spans(paged.text)] == [s.text for s in sentence_spans(plain.text)]
    assert paged.meta.page_of(at - 1) == 1 and paged.meta.page_of(at) == 2
    kept = clean("标题\n第一页讲完了。\f第二页开始。\n二是加强\f三、组织建设\n落实", "k.txt")
    assert kept.text == "标题\n第一页讲完了。\n第二页开始。\n二是加强\n三、组织建设\n落实"


NEWS = "2019年全国排球联赛决赛在北京举行，上海队以3比1战胜天津队，夺得本赛季冠军。"
MORE = "本届联赛共有来自12个省市的16支球队参赛，赛期历时5个月。"


def test_a_copyright_line_before_the_news_goes_and_the_news_stays():
    doc = clean(f"中国青年报版权所有，未经书面授权不得转载。\n{NEWS}\n{MORE}", "n.txt")
    assert doc.text == f"{NEWS}\n{MORE}"
    assert doc.meta.title.startswith("2019年全国排球联赛决赛")  # the notice is not the title


def test_notices_anywhere_go_line_by_line_and_the_text_around_them_stays():
    for notice in ("京ICP备12345678号 京公网安备11010502030143号", "Copyright © 2019 人民网 All Rights Reserved",
                   "地址：北京市东城区东四十条24号  邮编：100007", "网站地图 | 联系我们 | 关于我们", "版权声明：本文为新华网原创稿件，转载请注明出处。"):
        doc = clean(f"{NEWS}\n{notice}\n{MORE}", "n.txt")
        assert doc.text == f"{NEWS}\n{MORE}", notice


def test_a_notice_run_together_with_the_news_is_cut_out_of_the_line():
    assert clean(f"Copyright © 2014 人民网 All Rights Reserved{NEWS}", "n.txt").text == NEWS
    assert clean(f"京ICP备12345678号{NEWS}{MORE}", "n.txt").text == NEWS + MORE
    assert clean(f"新华网版权所有，未经授权不得转载。{NEWS}", "n.txt").text == NEWS


def test_prose_about_copyright_stays_and_only_notices_leave_a_document_empty():
    prose = ("所党委组织科研人员专题学习《著作权法》，明确职务作品的版权所有权归属单位、署名权归属作者，"
             "并结合近年来发生的三起成果转化纠纷案例进行了深入讨论。")
    assert clean(f"{NEWS}\n{prose}", "n.txt").text == f"{NEWS}\n{prose}"
    assert clean("Copyright © 2019 人民网 All Rights Reserved\n网站地图 | 联系我们 | 关于我们", "n.txt").text == ""


def test_a_site_footer_line_of_many_notices_goes_whole():
    footer = "版权所有：中国科学院兰州化学物理研究所  地址：甘肃省兰州市天水中路18号  邮编：730000  电话：0931-4968000  陇ICP备05000311号"
    assert clean(f"{NEWS}\n{footer}", "n.txt").text == NEWS
