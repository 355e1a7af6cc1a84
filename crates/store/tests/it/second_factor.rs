//! One-time codes accepted once: the latest accepted time step per customer only moves forward,
//! and of racing acceptances of one step exactly one wins.

use wekeza_store::identity::second_factor_steps;
use wekeza_store::testing::TestDatabase;

use crate::consents::customer;

#[tokio::test]
async fn a_time_step_is_accepted_once_and_never_an_earlier_one() {
    for database in TestDatabase::all().await {
        let db = database.conn();
        let ann = customer(db, "ann").await.to_string();
        let bob = customer(db, "bob").await.to_string();
        assert!(second_factor_steps::accept(db, &ann, 100).await.unwrap());
        assert!(!second_factor_steps::accept(db, &ann, 100).await.unwrap());
        assert!(!second_factor_steps::accept(db, &ann, 99).await.unwrap());
        assert!(second_factor_steps::accept(db, &bob, 100).await.unwrap());
        assert!(second_factor_steps::accept(db, &ann, 101).await.unwrap());

        let tasks: Vec<_> = (0..8)
            .map(|_| {
                let (db, bob) = (db.clone(), bob.clone());
                tokio::spawn(async move { second_factor_steps::accept(&db, &bob, 102).await })
            })
            .collect();
        let mut won = 0;
        for task in tasks {
            won += usize::from(task.await.unwrap().unwrap());
        }
        assert_eq!(won, 1, "{:?}", database.backend());
    }
}
