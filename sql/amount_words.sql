-- amount_in_words: Chinese financial capitals (大写金额) and English, and its errors.
SET search_path = public, rebate;

-- Each Chinese case with the 大写 written out by hand from the rules in
-- docs/statements.md; ok must be true on every row.
SELECT amount, words, words = correct AS ok
  FROM (VALUES
        (0,                '人民币零元整'),                  -- zero: 零元整
        (0.05,             '人民币伍分'),                    -- no yuan, no 角: 分 only, no 整 after 分
        (0.5,              '人民币伍角整'),                  -- no yuan: 角 only, 整 after 角
        (0.10,             '人民币壹角整'),                  -- trailing zero 分 ignored: 壹角整
        (0.55,             '人民币伍角伍分'),                -- 角 and 分, no 整
        (1.05,             '人民币壹元零伍分'),              -- 角 is 0, 分 is not: 零 after 元
        (1.50,             '人民币壹元伍角整'),              -- 整 after 角
        (10.00,            '人民币壹拾元整'),                -- 壹拾, never a bare 拾
        (10.50,            '人民币壹拾元伍角整'),            -- 元 digit 0, 角 not: no 零 (the rule allows either)
        (16.00,            '人民币壹拾陆元整'),              -- 壹拾陆
        (325.04,           '人民币叁佰贰拾伍元零肆分'),      -- the rulebook's example
        (1001,             '人民币壹仟零壹元整'),            -- zeros inside: one 零
        (1409.50,          '人民币壹仟肆佰零玖元伍角整'),    -- the rulebook's example (it allows 伍角 without 整)
        (6007.14,          '人民币陆仟零柒元壹角肆分'),      -- two zeros inside: one 零
        (10000,            '人民币壹万元整'),                -- 万 with nothing after
        (12345.67,         '人民币壹万贰仟叁佰肆拾伍元陆角柒分'),
        (16409.02,         '人民币壹万陆仟肆佰零玖元零贰分'), -- the rulebook's example
        (100010,           '人民币壹拾万零壹拾元整'),        -- 壹拾 at the start and after 零
        (107000.53,        '人民币壹拾万柒仟元伍角叁分'),    -- 万 digit 0, 仟 not: no 零 (the rulebook's first form)
        (100000000,        '人民币壹亿元整'),                -- 亿 with nothing after
        (100100000,        '人民币壹亿零壹拾万元整'),        -- 零 after 亿 (ICU alone writes 壹亿拾万)
        (110000000,        '人民币壹亿壹仟万元整'),          -- 仟万 follows 亿 directly: no 零
        (1000000001.01,    '人民币壹拾亿零壹元零壹分'),      -- 壹拾亿, 零 after 亿, 零 after 元
        (1000000000000,    '人民币壹万亿元整'),              -- 10^12 is 万亿 (ICU alone writes 壹兆)
        (1000100010001,    '人民币壹万零壹亿零壹万零壹元整'), -- zeros at every section
        (9999999999999999.99,
         '人民币玖仟玖佰玖拾玖万玖仟玖佰玖拾玖亿玖仟玖佰玖拾玖万玖仟玖佰玖拾玖元玖角玖分'), -- the largest amount
        (-1,               '人民币负壹元整'),                -- negative: 负 after 人民币
        (-1234.5,          '人民币负壹仟贰佰叁拾肆元伍角整'),
        (-0.05,            '人民币负伍分'),
        (1.005,            '人民币壹元零壹分'),              -- rounded half away from zero to 1.01
        (-1.005,           '人民币负壹元零壹分'),            -- to -1.01
        (2.994999,         '人民币贰元玖角玖分'),            -- to 2.99
        (2.995,            '人民币叁元整'),                  -- to 3.00
        (-0.004,           '人民币零元整')                   -- to 0: no 负
       ) AS c(amount, correct),
       LATERAL (SELECT rebate.amount_in_words(amount) AS words) w;

-- Defaults are zh_CN and CNY; the locale's case and separator do not matter.
SELECT rebate.amount_in_words(12345.67) AS defaults,
       rebate.amount_in_words(12345.67, 'zh') AS zh,
       rebate.amount_in_words(12345.67, 'ZH-cn', 'cny') AS spelled_otherwise,
       rebate.amount_in_words(NULL) IS NULL AS null_is_null,
       rebate.amount_in_words(1, NULL) IS NULL AS null_locale_is_null;

-- English: American (en, en_US) and British (en_GB, with "and").
SELECT amount, currency,
       rebate.amount_in_words(amount, 'en_US', currency) AS en_us,
       rebate.amount_in_words(amount, 'en_GB', currency) AS en_gb
  FROM (VALUES (0, 'USD'), (0.01, 'USD'), (0.05, 'CNY'), (1, 'USD'), (1.01, 'USD'), (1.05, 'EUR'),
               (2, 'EUR'), (101.10, 'GBP'), (1, 'GBP'), (0.01, 'GBP'), (12345.67, 'CNY'),
               (100010, 'HKD'), (1, 'HKD'), (-1234.5, 'USD'), (1.005, 'usd'), (1000000001.01, 'CNY'),
               (9999999999999999.99, 'USD')) AS e(amount, currency);

SELECT rebate.amount_in_words(12345.67, 'en') AS en,
       rebate.amount_in_words(12345.67, 'en-gb', 'CNY') AS en_gb_cny;

\x on
SELECT * FROM error_of($$SELECT rebate.amount_in_words(10000000000000000)$$);
SELECT * FROM error_of($$SELECT rebate.amount_in_words(9999999999999999.995)$$);
SELECT * FROM error_of($$SELECT rebate.amount_in_words(-12345678901234567.5, 'en', 'USD')$$);
SELECT * FROM error_of($$SELECT rebate.amount_in_words('NaN')$$);
SELECT * FROM error_of($$SELECT rebate.amount_in_words('-Infinity', 'en', 'USD')$$);
SELECT * FROM error_of($$SELECT rebate.amount_in_words(1, 'zh_TW')$$);
SELECT * FROM error_of($$SELECT rebate.amount_in_words(1, 'fr')$$);
SELECT * FROM error_of($$SELECT rebate.amount_in_words(1, 'zh_CN', 'USD')$$);
SELECT * FROM error_of($$SELECT rebate.amount_in_words(1, 'en', 'JPY')$$);
\x off
