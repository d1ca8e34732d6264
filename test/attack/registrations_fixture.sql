-- Customer registration rows of both fixture brands (included by
-- registrations_calls.sql, _triggers.sql and _reads.sql): a follow-up of the
-- sibling S2's registered customer (b+91), marked; brand B arbitrates
-- conflicts through a flow of its own, and B's registration is past its
-- protection, so that a lapse anybody managed to run would show.
INSERT INTO rebate.customer_followup (id, tenant_id, end_customer_id, partner_id, note, recorded_by) VALUES
    (940192, 9401, 940191, 940113, 'ZQXS跟进', 'atk_s1'), (940292, 9402, 940291, 940213, 'ZQXB跟进', 'atk_b_user');
INSERT INTO rebate.registration_setting (tenant_id, on_conflict) VALUES (9402, 'arbitrate');
INSERT INTO rebate.approval_flow (id, tenant_id, request_type, name) VALUES (940296, 9402, 'customer_registration', 'ZQXB仲裁');
INSERT INTO rebate.approval_step (tenant_id, flow_id, step_no, name, approver_kind) VALUES (9402, 940296, 1, 'ZQXB经理', 'manager');
UPDATE rebate.end_customer SET last_progress_on = CURRENT_DATE - 400 WHERE id = 940291;
