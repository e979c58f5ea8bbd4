"""Moving money between two balances.

    transfer(r, src, dst, amount) -> bool

Move `amount` from the balance `src` to the balance `dst` if `src` has enough; return True
if the money moved, False if the balance was too low. Two transfers from the same account
run at the same time, in every order of their commands. As shipped, both can pass the
balance check before either writes.
"""


def transfer(r, src, dst, amount):
    if int(r.get(src) or 0) < amount:
        return False
    r.decrby(src, amount)
    r.incrby(dst, amount)
    return True
