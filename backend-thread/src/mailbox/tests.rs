//! Unit tests of `mailbox/mod.rs`.

use super::*;

fn timer(n: u64) -> Envelope<u64> {
    Envelope {
        msg: n,
        request: None,
    }
}

/// The final ledger (accepted, handled, dead) of `id`, an earlier actor of the mailbox's cell.
fn gone_ledger(mailbox: &Mailbox<u64>, id: ActorId) -> (u64, u64, u64) {
    let mut reports = Vec::new();
    mailbox.life(|owner, life| life.retired_reports(owner, &mut reports));
    let gone = reports.iter().find(|r| r.id == id).unwrap().ledger;
    (gone.accepted, gone.handled, gone.dead_letters)
}

#[test]
fn system_messages_taken_in_a_batch_come_first_in_order_and_are_dead_at_a_stop() {
    let me = ActorId::new(1);
    let mailbox = Mailbox::<u64>::new(me, None, None);
    // Scheduled from birth: this test is the runner.
    mailbox.push(me, timer(100)).ok().unwrap();
    for n in 0..5 {
        mailbox.accept_timer(me).unwrap();
        assert_eq!(mailbox.push_timer(me, timer(n)).ok(), Some(false));
    }
    let mut handled = 0;
    let mut next = || match mailbox.next(&mut handled, Take::Any, true) {
        Next::Sys(SysMsg::Deliver(env)) => Some(env.msg),
        Next::Msg(env) => Some(env.msg),
        _ => None,
    };
    // The first takes the whole system queue; the rest come from the batch, before the
    // message queued earlier than all of them.
    assert_eq!((next(), next()), (Some(0), Some(1)));
    mailbox.accept_timer(me).unwrap();
    assert_eq!(mailbox.push_timer(me, timer(5)).ok(), Some(false));
    let mut dead = Vec::new();
    mailbox.close_and_drain(2, |_| (), |env| dead.push(env.msg));
    assert_eq!(
        dead,
        [100, 2, 3, 4, 5],
        "the queued message, then the system ones"
    );
    let ledger = mailbox.life_and_ledger(|_, ledger, _| ledger);
    assert_eq!(
        (ledger.accepted, ledger.handled, ledger.dead_letters),
        (7, 2, 5)
    );
}

#[test]
fn held_messages_join_the_queue_behind_earlier_ones_or_are_counted_dead() {
    let me = ActorId::new(1);
    let mailbox = Mailbox::<u64>::new(me, None, None);
    // Scheduled from birth: this test is the runner. One message went straight in.
    mailbox.push(me, timer(0)).ok().unwrap();
    let mut held: Vec<_> = (1..4).map(timer).collect();
    assert_eq!(
        mailbox.push_all(me, &mut held).ok(),
        Some(false),
        "still scheduled"
    );
    assert!(held.is_empty(), "the chunk joined the queue");
    let mut handled = 0;
    let mut taken = Vec::new();
    while let Next::Msg(env) = mailbox.next(&mut handled, Take::Any, taken.is_empty()) {
        taken.push(env.msg);
        handled += 1;
    }
    assert_eq!(taken, [0, 1, 2, 3]);

    // Closed since the sends returned `Ok`: accepted and dead at once, given back for the
    // dead-letter record.
    mailbox.close_and_drain(0, |_| (), |_| {});
    let mut held: Vec<_> = (4..6).map(timer).collect();
    assert!(matches!(
        mailbox.push_all(me, &mut held),
        Err(Late::Counted(()))
    ));
    assert_eq!(held.len(), 2);
    let ledger = mailbox.life_and_ledger(|_, ledger, _| ledger);
    assert_eq!(
        (ledger.accepted, ledger.handled, ledger.dead_letters),
        (6, 4, 2)
    );

    // The cell serves another actor now: counted on the gone actor's final report.
    let next = crate::pool::registry::next_use(me).unwrap();
    mailbox.retire(0, next, |ledger, life| {
        life.retire(me, ledger, 0, usize::MAX)
    });
    let mut held: Vec<_> = (6..9).map(timer).collect();
    assert!(matches!(
        mailbox.push_all(me, &mut held),
        Err(Late::Stale(()))
    ));
    assert_eq!(gone_ledger(&mailbox, me), (9, 4, 5));
}

#[test]
fn a_timer_is_accepted_when_set_and_left_out_of_the_drains_count_until_due() {
    let me = ActorId::new(1);
    let mailbox = Mailbox::<u64>::new(me, Some(1), None);
    mailbox.push(me, timer(0)).ok().unwrap();
    // Full, and still taken: a timer is not refused by a full mailbox.
    mailbox.accept_timer(me).unwrap();
    mailbox.accept_timer(me).unwrap();
    let ledger = mailbox.life_and_ledger(|_, ledger, _| ledger);
    assert_eq!(
        ledger.accepted, 3,
        "on the ledger from the moment it is set"
    );
    assert_eq!(
        mailbox.activity(),
        (1, 0),
        "a drain waits only for the queued one"
    );
    assert_eq!(mailbox.push_timer(me, timer(1)).ok(), Some(false));
    assert_eq!(mailbox.activity(), (2, 0));

    // The actor stops, then the cell serves another: the second timer, due now, is dead on
    // the gone actor's ledger, which counted it accepted already.
    let mut dead = Vec::new();
    mailbox.close_and_drain(0, |_| (), |env| dead.push(env.msg));
    assert_eq!(dead, [0, 1]);
    let next = crate::pool::registry::next_use(me).unwrap();
    mailbox.retire(0, next, |ledger, life| {
        life.retire(me, ledger, 0, usize::MAX)
    });
    assert_eq!(mailbox.accept_timer(me), Err(SendFailure::Stopped));
    assert_eq!(
        mailbox.push_timer(me, timer(2)).err().map(|env| env.msg),
        Some(2)
    );
    assert_eq!(
        mailbox.activity(),
        (3, 3),
        "settled, and nothing left pending"
    );
    assert_eq!(gone_ledger(&mailbox, me), (3, 0, 3));
}
