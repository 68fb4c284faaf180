-- Feedback after service (package feedback): an overall rating and the SQD
-- answers of the government's Client Satisfaction Measurement form, one
-- column per question so that stats average them in SQL. The primary key
-- is the "once per ticket" rule's backstop; "only after served, within
-- 24 h" is checked by the service under the institution's lock.

-- +goose Up
CREATE TABLE feedback (
    ticket_id      uuid        PRIMARY KEY REFERENCES tickets (id),
    institution_id bigint      NOT NULL REFERENCES institutions (id),
    rating         smallint    NOT NULL CHECK (rating BETWEEN 1 AND 5),
    -- 1 strongly disagree .. 5 strongly agree; NULL is N/A or unanswered.
    sqd0           smallint    CHECK (sqd0 BETWEEN 1 AND 5),
    sqd1           smallint    CHECK (sqd1 BETWEEN 1 AND 5),
    sqd2           smallint    CHECK (sqd2 BETWEEN 1 AND 5),
    sqd3           smallint    CHECK (sqd3 BETWEEN 1 AND 5),
    sqd4           smallint    CHECK (sqd4 BETWEEN 1 AND 5),
    sqd5           smallint    CHECK (sqd5 BETWEEN 1 AND 5),
    sqd6           smallint    CHECK (sqd6 BETWEEN 1 AND 5),
    sqd7           smallint    CHECK (sqd7 BETWEEN 1 AND 5),
    sqd8           smallint    CHECK (sqd8 BETWEEN 1 AND 5),
    comment        text        NOT NULL DEFAULT '' CHECK (char_length(comment) <= 500),
    created_at     timestamptz NOT NULL
);

-- Stats over a period: satisfaction of an institution.
CREATE INDEX feedback_institution_idx ON feedback (institution_id, created_at);

-- +goose Down
DROP TABLE feedback;
