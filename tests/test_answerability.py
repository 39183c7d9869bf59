"""The answerability check on its own: requirements read from a question, and whether a sentence
meets them. Sentences are made up here (not the seeds), so each rule is seen to work by itself."""

import pytest

from assistant.answer.answerability import missing
from assistant.answer.needs import needs, unknown_names

# A vocabulary standing in for an index: words → how many chunks use them.
DF = {w: 3 for w in "兰州 化物所 党支部 支部 光栅 室 党员 知识 竞赛 书记 组织 委员 题目 部门 代表队 称号 机关 研发 中心 "
                   "活动 主线 哈焊所 机械 总院 荣誉 黑龙江省 先进 党组织 座谈会 成员 小组 报道 事迹 大会 竞赛 评议 "
                   "交流会 年度 总结 打算 称号".split()}


@pytest.mark.parametrize("question, unknown", [
    ("大连化物所的知识竞赛是哪个部门出题的？", ["大连"]),  # a unit the library does not hold
    ("光谱室党支部的活动主线是什么？", ["光谱"]),
    ("火星上的党支部书记是谁？", ["火星"]),
    ("给火星探测器焊接时遇到了什么困难？", ["火星"]),
    ("兰州化物所的知识竞赛是哪个部门出题的？", []),  # the same question about a unit it holds
    ("光栅室党支部的活动主线是什么？", []),
    # jieba reads 不少 before 支部 as a unit's name and 那阵子 as a person; LAC reads neither as a name
    ("兰州化物所发现不少支部的主题党日不够规范，怎么补救的？", []),
    ("哈焊所搬迁那阵子，每天安排几个人守在工地？", []),
    ("光栅室党支部为迎接党的二十大开展了哪些活动？", ["二十大"]),  # LAC's numeral 二十大 is a name still
    ("哈焊所在机械总院内刊上分几期报道了事迹？", ["内刊"]),  # what it is in, as LAC reads it (jieba: 院内|刊上)
    ("文档里有哪些单位开展了知识竞赛？", []),
    ("哈焊所有几个支部评上了A级？", []),  # LAC reads 支部评|上, but nothing is 在 it
])
def test_names_the_library_never_uses(question, unknown):
    assert unknown_names(question, DF) == unknown


@pytest.mark.parametrize("question, sentence, lacks", [
    # who: the role asked must be there, with a name beside it
    ("光栅室党支部的纪检委员是谁？", "成立由书记王某为组长，组织委员冯某某为副组长的领导小组。", "names no 纪检委员"),
    ("光栅室党支部的组织委员是谁？", "成立由书记王某为组长，组织委员冯树龙为副组长的领导小组。", ""),
    ("亲自挂帅的那位支部书记叫什么？", "在林某院士指导下，支部书记亲自挂帅，攻克了难题。", "gives no name for 支部书记"),
    ("这次会议是谁主持的？", "院党组副书记刘某出席会议并讲话。", "says nothing of who 主持"),
    # when: a date, not 「本来已经退休」
    ("赵某是什么时候退休的？", "党员赵某本来已经退休，仍承担了外联工作。", "gives no date"),
    ("赵某是什么时候入职的？", "青年党员赵某从去年4月份入职后就扎进了工地。", ""),
    # where: a venue or a place, not the unit's own name
    ("七一党员大会是在哪里开的？", "兰州化物所召开七一党员大会，书记作党课报告。", "names no place"),
    ("七一党员大会是在哪里开的？", "七一党员大会在所学术报告厅召开。", ""),
    # count: the number with the unit asked, counting the thing asked
    ("争创小组一共有几名成员？", "所有成员谨记自身的使命，昼夜轮流值班。", "states no such number"),
    ("争创小组一共有几名成员？", "争创小组共有成员12名，昼夜轮流值班。", ""),
    ("最后有多少个党支部全部达标了？", "党支部自检自查工作重点查看方案中“17个是否”达标情况。", "counts something other than 党支部"),
    ("先进个人的事迹分了几期报道？", "分2期报道了先进党支部事迹。", "does not count those of 先进个人"),
    # rank: the rank asked, not another one
    ("知识竞赛团体总分第一名是哪个代表队？", "中心代表队获得了团体总分第二名。", "does not say 第一 (it says 第二)"),
    ("代表队在知识竞赛里拿了几等奖？", "中心代表队获得了团体总分第二名。", "states no prize level (it says 第二)"),
    ("代表队在知识竞赛里拿了第几名？", "在知识竞赛中，中心代表队获得了团体总分第二名。", ""),
    ("代表队在知识竞赛里拿了第几名？", "中心代表队获得了团体总分第二名。", "is not about the 知识竞赛"),  # whose rank?
    ("第三党支部全年集中学习了多少次？", "全年集中学习48次。", ""),  # 第三党支部 is a name, not a rank
    # a quoted name between the number and the thing counted is one word; a long noun phrase is read whole
    ("研究所一共组建了多少个负责新址建设的攻关小组？", "共组建了3个“岗位建功、争当先锋”攻关小组。", ""),
    ("研究所一共组建了多少个负责新址建设的攻关小组？", "共有3个课题通过验收，另外还组建了负责新址项目建设与设备调试的攻关小组。",
     "counts something other than 小组"),
    # which unit: 「哪个党支部」 needs a 党支部 — and the place asked about
    ("哈焊所哪个党支部被评为了黑龙江省先进党组织？", "张某荣获黑龙江省优秀共产党员称号。", "names no 党支部"),
    ("哈焊所哪个党支部被评为了黑龙江省先进党组织？", "焊材党支部荣获哈尔滨市先进党组织称号。", "is not about 黑龙江省"),
    ("获评先进的张某是哈焊所哪个党支部的党员？", "张某荣获黑龙江省优秀共产党员称号。", "names no 党支部"),  # not 哪个…党员
    # a question word inside a quoted name asks nothing; 几何 is no 几
    ("开展“我与合格党员差在哪儿”大讨论是为了强化哪种意识？", "二是强化看齐意识，深入开展“我与合格党员差在哪儿”大讨论。", ""),
    ("调研几何参量检验技术后提出了什么方案？", "调研几何参量检验技术，提出4M碳化硅镜坯几何参量检验方案。", ""),
    # a day is not a month; a deadline is a date with 前; a length of time is not a date
    ("所党委是哪一天印发方案的？", "今年2月，所党委印发了方案。", "gives no day"),
    ("所党委是哪一天印发方案的？", "2月18日，所党委印发了方案。", ""),
    ("个人总结要在什么时间之前交？", "党员于4月21日召开了座谈会，提交了个人总结。", "sets no deadline"),
    ("个人总结要在什么时间之前交？", "党员同志9月14日前要提交个人总结。", ""),
    ("那次交流会前后一共开了多长时间？", "9月27日上午，院里召开交流会。", "states no length of time"),
    ("那次交流会前后一共开了多长时间？", "交流会历时3个小时。", ""),
    # the best one: the same words, or a first place
    ("知识竞赛成绩最好的是哪个党支部？", "焊材党支部组织党员参加了知识竞赛。", "does not say which is 最好"),
    ("知识竞赛成绩最好的是哪个党支部？", "焊材党支部在知识竞赛中获得第一名。", ""),
    # 各党支部 names no particular branch; 哪个部门 needs a department's name, doing what is asked
    ("知识竞赛是哪个党支部组织的？", "各党支部组织党员参加了知识竞赛。", "names no 党支部"),
    ("测评表由哪个部门负责汇总统计？", "年终组织支部党员填写测评表，对党支部工作进行测评。", "names no organisation"),
    ("测评表由哪个部门负责汇总统计？", "党政办公室统一制作测评表样表。", "says nothing of who 汇总"),
    ("测评表由哪个部门负责汇总统计？", "测评表由党政办公室汇总后上报。", ""),
    # which items a list holds: a sentence that only names the list does not say
    ("“五个提升”具体是哪五个提升？", "努力做到“五个提升”，抓好各项工作。", "does not say what 五个提升 is"),
    ("“五个提升”具体是哪五个提升？", "努力做到“五个提升”，即提升组织力、提升凝聚力。", ""),
    ("书记在党课上具体提了哪几条要求？", "书记为全体党员作主题党课报告。", "does not say what 要求 is"),
    ("书记在党课上具体提了哪几条要求？", "书记在党课上提出三点要求：一是加强学习。", ""),
    ("获得“先进党支部”称号的具体是哪几个党支部？", "焊材党支部获得“先进党支部”称号。", ""),  # a title, not a list
    # an honour's kind of branch is no branch's name; a deadline is the one of what is asked for (总结)
    ("哪个党支部被评为先进？", "评选出了创先争优先进党支部和优秀共产党员。", "names no 党支部"),
    ("年度总结要在哪天之前交？", "党员9月14日前要提出个人打算。", "is not about the 年度总结"),
    ("年度总结要在哪天之前交？", "党员12月20日前要交年度总结。", ""),
    # a meeting whose 精神 another meeting passes on was not held that day
    ("座谈会是哪天开的？", "我院于4月21日召开了贯彻落实座谈会精神视频会议。", "is not about the 座谈会"),
    ("座谈会是哪天开的？", "4月6日，中央专门召开座谈会。", ""),
    # contact details
    ("光栅室的联系电话是什么？", "光栅室党支部负责组织开展创先争优活动。", "gives no phone"),
    ("光栅室的联系电话是什么？", "联系电话：0431-86176000。", ""),
])
def test_a_sentence_answers_only_what_it_states(question, sentence, lacks):
    report = "光栅室党支部创先争优活动实施方案"  # the unit the question names may be in the report's title
    assert missing(needs(question, DF), sentence, context=report) == lacks


def test_unit_names_may_be_in_the_report_title_instead():
    n = needs("光栅室党支部的活动主线是什么？", DF)
    assert missing(n, "要紧紧围绕“筑牢堡垒”主线开展活动。", context="光栅室党支部创先争优活动实施方案") == ""


def test_quoted_names_must_be_named():
    n = needs("院党组《关于深入推进学习教育的通知》是哪天印发的？", DF)
    assert missing(n, "9月27日上午，中科院召开视频交流会。") == "is not about 关于深入推进学习教育的通知"
    assert missing(n, "会前，院党组印发了《关于深入推进学习教育的通知》。") == "gives no date"


def test_everyday_words_jieba_tags_as_places_are_not_places():
    """「上台讲话」: jieba tags 上台 as a place; a library that uses the word (上台阶) must not make
    every answer name it. A real place the library knows still must be named."""
    df = dict(DF, 上台=5, 黑龙江省=2, 兰州=4)
    assert "上台" not in needs("替质检中心支部上台讲话的书记是谁？", df).names
    assert "黑龙江省" in needs("黑龙江省有哪些单位开展了知识竞赛？", df).names
    assert "兰州" in needs("兰州的党支部组织了什么活动？", df).names


def test_each_branch_is_not_a_place():
    """jieba tags 各支部 as a place: 「哈焊所各支部…」 asks about branches in general, not a place named 各支部."""
    df = dict(DF, 各支部=4)
    assert needs("哈焊所各支部一共组建了多少个攻关小组？", df).names == ()


def test_a_report_author_that_is_a_department_answers_who_wrote_it():
    n = needs("那篇总结的作者是谁？", DF).for_report()
    assert missing(n, "作者:党群工作部", author="党群工作部") == ""
    assert missing(n, "作者:党群工作部") == "names nobody"  # a department is no person's name
    # the report's author answers only in a sentence that names it, not in every sentence of the report
    assert missing(n, "所党委对创先争优活动进行系统总结。", author="党群工作部") == "names nobody"


# --- the "what it means" slot (issue 16): a term's content, not a sentence that only mentions it

@pytest.mark.parametrize("question, term", [
    ("方案里说的“三严三保”到底指什么？", "三严三保"),
    ("党建工作与业务工作“四同”，是哪四同？", "四同"),
    ("要求党员强化的“三种意识”是哪三种？", "三种意识"),
    ("“以学促做”是什么意思？", "以学促做"),
    ("讲话里提到的中科院战略使命，具体是怎么表述的？", "战略"),
    ("领导小组的副组长是哪两位？", ""),  # who, not what
    ("会议是哪几天开的？", ""),  # when
    ("研发中心党支部得过什么称号？", ""),  # which title, not what a term means
    ("质检中心有多少名党员？", ""),
])
def test_the_term_whose_content_is_asked(question, term):
    assert needs(question, DF).defines == term


@pytest.mark.parametrize("question, sentence, context, lacks", [
    ("“三严三保”到底指什么？", "做到“三严三保”,即严格考勤,保证学习人数;", "", ""),
    ("“三种意识”是哪三种？", "要求各党支部和广大党员强化三种意识:一是责任意识。", "", ""),
    ("“四个融为一体”具体指哪四个方面？", "探索“四个融为一体”的有效组织形式,即:创先争优活动与经济中心工作融为一体", "", ""),
    ("讲话里提到的战略使命，具体是怎么表述的？", "明确我院“出创新成果、出创新人才、出创新思想”的战略使命", "", ""),
    ("“四同”是哪四同？", "在全所层面带头做到党建工作与业务工作同谋划、同部署、同检查、同考核。",
     "五、坚持党建工作与业务工作“四同”", ""),  # under the heading that names it
    ("“双育工程”到底指什么？", "结合实施党员“双育工程”,采取重温入党誓词、回顾党的成就、学习党史等形式。", "",
     "does not say what 双育工程 is"),  # a list follows, but of the forms used, not of what it is
    ("“五个提升”具体指哪五个方面？", "努力做到“五个提升”,抓好基层组织建设年各项工作。", "",
     "does not say what 五个提升 is"),
])
def test_a_sentence_states_what_a_term_is_or_only_mentions_it(question, sentence, context, lacks):
    assert missing(needs(question, DF), sentence, context) == lacks


# --- constraints the answer must carry: the place in a list, the planning period (issue 16)

@pytest.mark.parametrize("question, sentence, lacks", [
    ("学习教育目标的第四个方面讲的是什么？", "四是进一步强化宗旨观念，勇于担当作为。", ""),
    ("基本原则的第四条是怎么写的？", "四要立足本职、注重实效。", ""),
    ("基本原则的第四条是怎么写的？", "（四）立足本职、注重实效。", ""),
    ("学习教育目标的第五个方面讲的是什么？", "四是进一步强化宗旨观念，勇于担当作为。", "is not point 5 of a list"),
    ("学习教育目标的第五个方面讲的是什么？", "结合实际制定活动实施方案，提出明确目标和具体要求。", "is not point 5 of a list"),
    ("代表队拿了第几名？", "中心代表队获得了团体总分第二名的优异成绩。", ""),  # a rank, not a list point
    ("十三五战略目标里要形成什么？", "十二五战略目标已经明确，在研发、产业和行业服务方面形成三个一流。",
     "is not about 十三五"),
    ("十二五战略目标里要形成什么？", "十二五战略目标已经明确，在研发、产业和行业服务方面形成三个一流。", ""),
])
def test_the_place_in_a_list_and_the_period_asked_must_be_the_sentences(question, sentence, lacks):
    assert missing(needs(question, DF), sentence) == lacks


@pytest.mark.parametrize("question, sentence, context, dated, lacks", [
    # The year the question names must be the sentence's: its own words, its headings, or its report's date.
    ("2021年全所共有多少个党支部？", "全所共有10个党支部。", "", "2019-05-06", "is not about 2021"),
    ("2021年全所共有多少个党支部？", "全所共有10个党支部。", "", "2021-05-06", ""),
    ("2021年全所共有多少个党支部？", "全所共有10个党支部。", "二〇二一年工作总结", "", ""),
    ("2035年党建目标是什么？", "到2020年，基层党组织建设质量明显提升。", "", "2016-04-08", "is not about 2035"),
    # 上半年's work is not 下半年's: the part of the year must be stated where the sentence stands.
    ("下半年要召开几次组织生活会？", "每季度召开1次组织生活会。", "上半年工作安排", "", "is not about 下半年"),
    ("上半年要召开几次组织生活会？", "召开2次组织生活会。", "上半年工作安排", "", ""),
])
def test_the_year_asked_must_be_the_sentences(question, sentence, context, dated, lacks):
    assert missing(needs(question, DF), sentence, context, dated=dated) == lacks


def test_a_heading_numbers_a_section_not_the_point_asked():
    n = needs("学习教育目标的第四个方面讲的是什么？", DF)
    assert missing(n, "全院各级党组织要承担起组织领导的责任。", "四、切实加强组织领导") == "is not point 4 of a list"


def test_a_place_may_set_the_scene_earlier_in_the_paragraph_a_person_or_unit_may_not():
    """The reader looks at the sentence with what comes before it in its paragraph: a place named
    there is where the sentence happens; a person or unit named there is not what it is about."""
    n = needs("长辛店的劳动补习学校有几位教员？", {**DF, "长辛店": 2, "学校": 3, "教员": 2})
    assert "长辛店" in n.names
    sentence = "这所学校离北京不远，有三位教员。"
    assert missing(n, sentence) == "is not about 长辛店"
    assert missing(n, sentence, before="我们决定在长辛店创办劳动补习学校。") == ""
    who = needs("党员赵洪玉是什么时候退休的？", {**DF, "赵洪玉": 1, "退休": 1})
    assert missing(who, "今年按计划顺利搬迁。", before="党员赵洪玉负责外联工作。") == "is not about 赵洪玉"


@pytest.mark.parametrize("question, sentence, before, lacks", [
    # The slot is bound to the event asked about: a date of something else does not answer.
    ("创先争优动员大会是哪天召开的？", "党员同志9月14日前要提出个人打算。", "", "is not about the 动员大会"),
    ("创先争优动员大会是哪天召开的？", "9月10日，室党支部召开动员大会，部署创先争优活动。", "", ""),
    ("总结表彰大会上有几个党支部上台交流？", "所党委召开交流推进会，5个党支部交流了心得。", "", "is not about the 表彰大会"),
    ("群众评议时一共有多少名党员参加？", "共有95名党员参加了答题活动。", "", "is not about the 群众评议"),
    ("群众评议时一共有多少名群众代表参加？", "开展群众评议,共56名群众代表参加了评议。", "", ""),
    # A sentence that refers back (本次会议…) to the event named just before it answers.
    ("那次视频交流会一共设了多少个分会场？", "本次会议在全院设80个分会场。", "中科院召开党支部工作视频交流会。", ""),
    ("那次视频交流会一共设了多少个分会场？", "全院设80个分会场。", "中科院召开党支部工作视频交流会。",
     "is not about the 视频交流会"),
])
def test_the_slot_is_bound_to_the_event_asked_about(question, sentence, before, lacks):
    assert missing(needs(question, DF), sentence, before=before) == lacks


def test_a_word_no_report_uses_is_no_event():
    # LAC reads 「多少人参会」 as 人参会 (ginseng meeting): no report has it, so it binds nothing.
    assert needs("中科院那场视频交流会一共设了多少个分会场？大概多少人参会？", DF).events == (("视频", "交流会"),)


@pytest.mark.parametrize("question, sentence, lacks", [
    # The owner of what is counted is the title the question quotes, whatever the sentence calls it.
    ("《劳动界》周刊的印数是多少？", "他们出版的报纸叫《劳动界》，印数为三千份。", ""),
    ("《社会主义者》日报每期的印数是多少？", "他们出版的报纸叫《劳动界》，印数为三千份。", "is not about 社会主义者"),
    # 经费 (a verbal noun to jieba) is what 「每月经费有多少」 counts: 两千名铁路工人 is not it.
    ("劳动补习学校每月经费有多少？", "我们创办劳动补习学校，训练两千名铁路工人。", "does not count 经费"),
])
def test_what_is_counted_and_whose(question, sentence, lacks):
    assert missing(needs(question, DF), sentence) == lacks


@pytest.mark.parametrize("question, sentence, lacks", [
    # The form asked for, by its name: another form of the same report does not answer.
    ("整改完成后党支部要填报哪张整改销号表？", "党支部要填写《达标评估自检自查表》并上报所党委。", "names no 整改销号表"),
    ("自检自查后党支部要填报哪张达标评估自检自查表？", "党支部要填写《达标评估自检自查表》并上报所党委。", ""),
    ("自检自查后党支部要把结果填进哪张表？", "党支部要填写《达标评估自检自查表》并上报所党委。", ""),  # any form will do
])
def test_the_form_asked_for(question, sentence, lacks):
    assert missing(needs(question, DF), sentence) == lacks


@pytest.mark.parametrize("question, sentence, lacks", [
    # A short quoted name is a slogan: 「四个融为一体」 does not name “四个一”, whatever lies between.
    ("“四个一”争创目标是哪个支部提出来的？", "各党支部积极探索“四个融为一体”的有效组织形式。", "is not about 四个一"),
    ("“四个一”争创目标是哪个支部提出来的？", "实心药芯焊丝事业部党支部确定了“四个一”争创目标。", ""),
    # in either script
    ("“三嚴三保”指什么？", "做到“三严三保”,即严格考勤,保证学习人数;", ""),
])
def test_a_quoted_slogan_is_named_in_its_own_words(question, sentence, lacks):
    assert missing(needs(question, DF), sentence) == lacks


def test_a_numbered_lead_names_the_unit_its_paragraph_is_about():
    n = needs("“四个一”争创目标是哪个支部提出来的？", DF)
    sentence = "为了加强生产管理,确定了“四个一”争创目标。"
    assert missing(n, sentence) == "names no 支部"
    assert missing(n, sentence, lead="1、实心药芯焊丝事业部党支部把“创新示范岗建在生产一线中”。") == ""


@pytest.mark.parametrize("question, lacks", [
    ("哈焊所有多少个党支部被评为A级？", ""),
    ("哈焊所有多少个党支部被评为C级？", "does not say C级"),
    ("哈焊所有多少个党支部获得过国家级表彰？", "does not say 国家级"),
])
def test_the_grade_asked_must_be_the_sentences(question, lacks):
    assert missing(needs(question, DF), "全所共10个党支部,4个党支部被评为A级,其他党支部被评为B级。") == lacks


@pytest.mark.parametrize("question, sentence, lacks", [
    # an office that does the act asked about answers 「由谁…」
    ("先整顿的工作由谁牵头？", "院党建工作领导小组办公室牵头，督促指导其先整顿到位。", ""),
    ("先整顿的工作由谁牵头？", "要督促指导问题突出的基层党组织先整顿到位。", "names nobody"),
    # 「那个宣誓活动叫什么」 asks the activity's name: no person is needed
    ("质检中心那个宣誓活动叫什么？", "质检中心开展“我是党员我带头”宣誓活动。", ""),
    ("光栅室组长叫什么？", "光栅室成立创先争优活动领导小组。", "names no 组长"),
])
def test_who_may_be_an_office_and_a_things_name_is_no_person(question, sentence, lacks):
    assert missing(needs(question, DF), sentence) == lacks


@pytest.mark.parametrize("question, sentence, lacks", [
    # what the question states itself does not fill the slot it asks
    ("王齐华作党课的那次大会是谁主持的？", "王齐华为全体党员作主题党课报告。", "names nobody"),
    ("五四青年节那场座谈会是哪天开的？", "以五四青年节为契机，组织青年党员开展了座谈会。", "gives no date"),
    ("95名党员参加的竞赛一共有几道题？", "共有95名党员参加了答题活动。", "states no such number"),
    ("95名党员参加的竞赛一共有几道题？", "共有95名党员参加了知识竞赛，共100道题。", ""),
    ("2名党员发言的那次会议有多少名党员参加？", "会议共12名党员参加，2名党员发言。", ""),  # 12名 is no 2名
    ("2016年4月的座谈会是哪天开的？", "2016年4月6日，中央召开座谈会。", ""),
])
def test_what_the_question_states_is_not_its_answer(question, sentence, lacks):
    assert missing(needs(question, DF), sentence) == lacks


@pytest.mark.parametrize("question, sentence, lacks", [
    # how often: a frequency answers, not a length of time, and 定期 states none
    ("党小组会多长时间开一次？", "党小组每月召开一次党小组会。", ""),
    ("支委会几个月开一次？", "支委会每季度召开1次。", ""),
    ("党小组会多长时间开一次？", "党小组定期召开党小组会。", "says not how often"),
    # the hour: 上午 is no hour; 几点要求 asks for a count of points
    ("主题党日几点开始？", "主题党日活动于9月10日上午9点开始。", ""),
    ("主题党日几点开始？", "主题党日活动于9月10日上午举行。", "gives no hour"),
    ("书记提了几点要求？", "书记提出三点要求。", ""),
    ("书记提了几点要求？", "书记提出了要求和希望。", "states no such number"),
])
def test_how_often_and_at_what_hour(question, sentence, lacks):
    assert missing(needs(question, DF), sentence) == lacks


@pytest.mark.parametrize("question, term", [
    # which items of a quoted term whose name counts them
    ("讲话里提到的“三严三实”，具体是哪“三严”、哪“三实”？", "三严三实"),
    ("哈焊所说的“五个提升”，具体是提升哪五个方面？", "五个提升"),
    ("“两学一做”要求学习哪两部法规？", ""),  # 两 is the laws' count, not the term's items
    ("“四个一”争创目标是哪个支部提出来的？", ""),
])
def test_which_items_of_a_counted_term(question, term):
    assert needs(question, DF).defines == term


@pytest.mark.parametrize("question, sentence, before, lacks", [
    # 「几好」 asks for a slogan's numeral (五好), not a number with a unit
    ("党支部要求党员争当几好党员？", "促进全体党员同志争当“五好党员”,发挥先锋模范作用。", "", ""),
    ("党支部要求党员争当几好党员？", "促进全体党员同志争当优秀党员,发挥先锋模范作用。", "", "states no such number"),
    # a ；clause goes on with the list its sentence opened for the quoted name (即…), not with another's
    ("“三严三保”里，“严格纪律”是为了保证什么？", "严格纪律,保证集中学习时间;", "做到“三严三保”,即严格考勤,保证学习人数;", ""),
    ("“三严三保”里，“严格纪律”是为了保证什么？", "严格纪律,保证集中学习时间;", "党支部要严格考勤。", "is not about 三严三保"),
    ("哪个党支部获得了“四好”党组织称号？", "研发中心党支部荣获“四强”党组织称号;", "所领导班子荣获“四好”领导班子称号;",
     "is not about 四好"),
])
def test_slogan_counts_and_clauses_that_go_on(question, sentence, before, lacks):
    assert missing(needs(question, DF), sentence, before=before) == lacks


def test_a_things_name_asked_with_mingzi_is_no_person():
    n = needs("光机所质检中心五月初给年轻党员开的那场座谈会，主题名字叫啥？", DF)
    assert not n.who and n.named == "主题"
    assert needs("那位党员负责人叫什么名字？", DF).who


@pytest.mark.parametrize("question, asked", [
    ("光栅室开展创先争优活动要围绕哪两个重大节点？", "重大节点"),
    ("讲话要求把学习教育和哪一项专题教育的成果运用结合起来？", "专题教育"),
    ("用的是哪种方法？", "方法"),
    ("在哪里开会？", ""), ("哪些单位开展了竞赛？", ""), ("哪天召开？", ""),
    ("哪位委员负责？", ""), ("哪个党支部获得了称号？", ""),  # who and which ask for those
])
def test_what_a_which_question_asks_instances_of(question, asked):
    assert needs(question, DF).asked == asked


def test_a_department_named_must_be_the_sentences():
    # 「带着技术部争创小组…的那位党员负责人」: the 负责人 of 切割中心组 is not the one asked for
    df = {**DF, "技术部": 2, "切割中心": 2}
    n = needs("带着技术部争创小组攻关核电焊条的那位党员负责人叫什么名字？", df)
    assert "技术部" in n.names
    assert missing(n, "党员负责人韩永馗同志带领切割中心组全体人员精心设计。") == "is not about 技术部"
    assert "办公室" not in needs("党政办公室负责什么？", {**DF, "办公室": 3}).names  # a bare kind names none
