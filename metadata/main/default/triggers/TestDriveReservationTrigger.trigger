trigger TestDriveReservationTrigger on Test_Drive_Reservation__c(before insert, before update) {
    new TestDriveReservationTriggerHandler().run();
}
