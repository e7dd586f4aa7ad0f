-- Every order history step is a transition of the state machine (NULL->PENDING, PENDING->CONFIRMED|CANCELLED, CONFIRMED->SHIPPING|CANCELLED, SHIPPING->DELIVERED)
SELECT h.order_id, h.from_status, h.to_status, h.at
FROM order_status_history h
WHERE (COALESCE(h.from_status, '-'), h.to_status) NOT IN (
    ('-', 'PENDING'),
    ('PENDING', 'CONFIRMED'), ('PENDING', 'CANCELLED'),
    ('CONFIRMED', 'SHIPPING'), ('CONFIRMED', 'CANCELLED'),
    ('SHIPPING', 'DELIVERED'))
