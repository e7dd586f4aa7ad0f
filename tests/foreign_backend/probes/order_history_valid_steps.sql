-- Every order transition is a step of the state machine (NULL->PENDING, PENDING->CONFIRMED|CANCELLED, CONFIRMED->SHIPPING|CANCELLED, SHIPPING->DELIVERED)
SELECT t.order_id, t.from_state, t.to_state, t.at
FROM order_transitions t
WHERE (COALESCE(t.from_state, '-'), t.to_state) NOT IN (
    ('-', 'PENDING'),
    ('PENDING', 'CONFIRMED'), ('PENDING', 'CANCELLED'),
    ('CONFIRMED', 'SHIPPING'), ('CONFIRMED', 'CANCELLED'),
    ('SHIPPING', 'DELIVERED'))
